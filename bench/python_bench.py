#!/usr/bin/python3
"""Benchmark of the Python module (docs/python.md, "Tests and speed"), in one process:

1. muft.metrics over the matrices of bench/analyze_bench.sh's fixture (read with muft.open,
   without copying) against numpy's float64 Gram + eigvalsh loop on the same arrays; both give
   the stable rank and the SVD entropy, and the largest relative difference is printed.
   Goal: muft ≥ 2× faster (the CLI's goal against the same kind of reference).
2. The per-call overhead of muft.metrics on a 64×64 float64 matrix: one call timed from Python
   minus the computation alone, timed in C++ with no Python in the loop
   (muft._muft.time_compute). Goal: < 50 µs.

Usage: PYTHONPATH=build/python bench/python_bench.py [WORK_DIR] [--small] [--repeats N]
--small uses a fixture of 256×256 .. 1024×256 matrices, for checking the script itself; the
numbers to report come from the full fixture on an idle machine (compare CPU times on a shared
one: wall times move with the load).
"""
import json
import math
import os
import sys
import time

import numpy as np

import muft

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from analyze_reference import make_fixture, metrics as reference_metrics, write_safetensors  # noqa: E402


def small_fixture(path):
    rng = np.random.default_rng(1234)
    write_safetensors(path, {"a": rng.standard_normal((256, 256), dtype=np.float32),
                             "b": rng.standard_normal((1024, 256), dtype=np.float32),
                             "c": rng.standard_normal((256, 768), dtype=np.float32)})


def numpy_gram_metrics(w):
    w = w.astype(np.float64)
    g = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    s2 = np.clip(np.linalg.eigvalsh(g), 0, None)
    return reference_metrics(np.sqrt(s2[::-1]))


def timed(fn, repeats):
    """Best (wall, cpu) seconds of `repeats` runs of fn() and its last result."""
    best_wall = best_cpu = math.inf
    out = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        best_wall = min(best_wall, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best_wall, best_cpu, out


def main():
    import argparse
    ap = argparse.ArgumentParser(description="muft.metrics versus numpy, and per-call overhead")
    ap.add_argument("work", nargs="?", default="/tmp/muft-python-bench")
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    opts = ap.parse_args()
    work, small, repeats = opts.work, opts.small, opts.repeats
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "small.safetensors" if small else "bench.safetensors")
    if not os.path.exists(path):
        (small_fixture if small else make_fixture)(path)
    print(muft.platform())
    print("load average before: %s; %d cores" % (open("/proc/loadavg").read().split()[:3],
                                                  os.cpu_count()))
    ck = muft.open(path)
    mats = {k: ck[k] for k in ck if len(ck.info(k).shape) >= 2}
    assert all(w.base is ck for w in mats.values()), "fixture arrays are not views of the file"

    def run_muft():
        return {k: muft.metrics(w) for k, w in mats.items()}

    def run_numpy():
        return {k: numpy_gram_metrics(w) for k, w in mats.items()}

    m_wall, m_cpu, got = timed(run_muft, repeats)
    n_wall, n_cpu, want = timed(run_numpy, repeats)
    worst = 0.0
    for k in mats:
        for metric in ("stable_rank", "svd_entropy"):
            worst = max(worst, abs(got[k][metric] - want[k][metric]) / abs(want[k][metric]))

    w64 = np.random.default_rng(0).standard_normal((64, 64))
    calls = 2000 if not small else 200
    best_call = math.inf
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(calls):
            muft.metrics(w64)
        best_call = min(best_call, (time.perf_counter() - t0) / calls)
    compute = min(muft._muft.time_compute(w64, "gram", calls) for _ in range(5))
    overhead = best_call - compute
    print("load average after: %s" % (open("/proc/loadavg").read().split()[:3],))
    result = {
        "fixture": path, "matrices": {k: list(w.shape) for k, w in mats.items()},
        "muft_seconds": m_wall, "muft_cpu_seconds": m_cpu,
        "numpy_gram_eigvalsh_seconds": n_wall, "numpy_cpu_seconds": n_cpu,
        "speedup_wall": n_wall / m_wall, "speedup_cpu": n_cpu / m_cpu,
        "max_rel_diff_stable_rank_entropy": worst,
        "call_64x64_us": best_call * 1e6, "compute_64x64_us": compute * 1e6,
        "overhead_64x64_us": overhead * 1e6,
        "goals": {"speedup_ge_2": n_wall / m_wall >= 2, "overhead_lt_50us": overhead < 50e-6},
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
