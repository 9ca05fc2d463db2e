#!/usr/bin/python3
"""muft-sweep collect on a full disk (issue 9 §1): a grid run with tests/sweep/fake_train.py (a
TEST DOUBLE of muft-train) is collected once, then again under a file size limit (RLIMIT_FSIZE,
SIGXFSZ ignored: writes past it fail with EFBIG, as writes on a full disk fail with ENOSPC).
The second collect must exit 1 with one error line (no HDF5-DIAG flood, no crash at exit), leave
no *.tmp.<pid> file, and keep the first collect's files as they were.
Usage: collect_disk_full_test.py SWEEP SRC
"""
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile

SWEEP, SRC = sys.argv[1], sys.argv[2]
FAKE = os.path.join(SRC, "tests", "sweep", "fake_train.py")
T = tempfile.mkdtemp(prefix="muft_collect_full_")
SPEC = os.path.join(T, "fake.toml")
with open(os.path.join(SRC, "tests", "sweep", "data", "fake.toml")) as f:
    open(SPEC, "w").write(f.read().replace("PLACEHOLDER", os.path.join(T, "runs")))
OUT = os.path.join(T, "out")
os.makedirs(OUT)
FILES = [os.path.join(OUT, n) for n in ("results.h5", "results_runs.csv", "results_metrics.csv")]


def sweep(*args, limit=None):
    def preexec():
        if limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    cmd = [SWEEP, args[0], SPEC] + list(args[1:])
    env = dict(os.environ, FAKE_TRAIN_SLEEP="0")
    return subprocess.run(cmd, capture_output=True, text=True, env=env, preexec_fn=preexec)


try:
    p = sweep("run", "--jobs", "2", "--trainer", FAKE)
    assert p.returncode == 0, (p.stdout, p.stderr)
    p = sweep("collect", "--out", FILES[0], "--no-analysis")
    assert p.returncode == 0, (p.stdout, p.stderr)
    before = [open(f, "rb").read() for f in FILES]
    for limit in (len(before[0]) // 2, len(before[0]) // 8):
        p = sweep("collect", "--out", FILES[0], "--no-analysis", limit=limit)
        assert p.returncode == 1, ("exit code", limit, p.returncode, p.stderr[:2000])
        lines = p.stderr.splitlines()
        assert len(lines) == 1, ("not one error line", lines[:10])
        assert lines[0].startswith("muft-sweep: error: cannot write "), lines[0]
        assert "File too large" in lines[0], lines[0]
        left = [n for n in os.listdir(OUT) if ".tmp." in n]
        assert not left, ("temporary files left", left)
        assert [open(f, "rb").read() for f in FILES] == before, "earlier results changed"
    print("collect_disk_full_test: all checks passed")
finally:
    shutil.rmtree(T, ignore_errors=True)
