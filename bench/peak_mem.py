#!/usr/bin/python3
"""Runs a command and reports its wall time, CPU time and peak memory, the latter both as the
kernel's peak RSS (which counts the pages of memory-mapped input files) and as the peak of
RssAnon sampled from /proc/PID/status every 2 ms (the process's own allocations only: what the
analysis needs, without the checkpoint pages the page cache could drop at any time).
Sampling costs CPU (measured ~1 s of a 7 s run on a 2-core machine), so time a command with
--no-sample (peak_anon_kb is then null) and measure its memory in a second run.

Usage: peak_mem.py [--no-sample] RESULT.json CMD [ARGS...]
The command inherits stdin/stdout/stderr; its exit status is this script's. RESULT.json gets
{"wall_s", "cpu_s", "max_rss_kb", "peak_anon_kb", "samples"}.
"""
import json
import os
import sys
import time


def anon_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def main():
    args = sys.argv[1:]
    sample = not (args and args[0] == "--no-sample")
    if not sample:
        args = args[1:]
    if len(args) < 2:
        print("usage: peak_mem.py [--no-sample] RESULT.json CMD [ARGS...]", file=sys.stderr)
        return 2
    out, cmd = args[0], args[1:]
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    peak, samples = 0, 0
    while sample:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        kb = anon_kb(pid)
        if kb is not None:
            peak = max(peak, kb)
            samples += 1
        time.sleep(0.002)
    if not sample:
        _, status, usage = os.wait4(pid, 0)
        peak = None
    wall = time.perf_counter() - t0
    with open(out, "w") as f:
        json.dump({"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
                   "max_rss_kb": usage.ru_maxrss, "peak_anon_kb": peak, "samples": samples}, f)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
