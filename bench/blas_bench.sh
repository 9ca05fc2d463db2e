#!/usr/bin/env bash
# dgemm GFLOP/s, muft against numpy (float64, C = A B, n x n, best of REPEATS), on the same
# OpenBLAS core. muft's side goes through muft::platform's start-up like every muft app, so on a
# machine whose OpenBLAS falls back to its Prescott kernels it re-runs itself with the CPU's
# kernels, and numpy is then given the same OPENBLAS_CORETYPE (bench/platform.sh).
#
# Usage: bench/blas_bench.sh [BUILD_DIR (default build)] [N (default 2048)] [REPEATS (default 5)]
# Prints GFLOP/s from wall time and from process CPU time (steadier when other jobs share the
# cores; with OPENBLAS_NUM_THREADS=1 it is the speed of one core).
# To see the effect on a machine whose OpenBLAS recognizes its CPU:
#   OPENBLAS_CORETYPE=Prescott bench/blas_bench.sh               # both sides forced to Prescott
#   MUFT_PLATFORM_ASSUME_CORENAME=Prescott bench/blas_bench.sh   # muft believes it got Prescott
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build}"
n="${2:-2048}"
repeats="${3:-5}"
bin="$build/bench/blas_bench"
py=/usr/bin/python3
[ -x "$bin" ] || { echo "blas_bench: $bin not found; build the blas_bench target first" >&2; exit 2; }
# shellcheck source=bench/platform.sh
source "$here/platform.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" "$n" "$repeats" > "$tmp/muft.out" 2> "$tmp/muft.err"
line=$(platform_line "$tmp/muft.err")
core=$(python_coretype "$line")
run_python "$core" "$py" - "$n" "$repeats" "$here" > "$tmp/python.out" <<'PY'
import json, sys, time
sys.path.insert(0, sys.argv[3])
import numpy as np
from blas_core import openblas_core
n, repeats = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(7)
a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
best = best_cpu = float("inf")
for r in range(repeats + 1):
    t0, c0 = time.perf_counter(), time.process_time()
    c = a @ b
    if r:
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
print("BENCH " + json.dumps({"impl": "python", "n": n, "seconds": best,
                             "gflops": 2 * n**3 / best * 1e-9, "cpu_seconds": best_cpu,
                             "gflops_per_cpu_s": 2 * n**3 / best_cpu * 1e-9,
                             "openblas_core": openblas_core()}))
PY
grep -v '^muft platform:' "$tmp/muft.err" || true  # muft's own notice, if it re-executed
"$py" - "$tmp/muft.out" "$tmp/python.out" <<'PY'
import json, sys
m = json.loads(open(sys.argv[1]).read().split("BENCH ", 1)[1])
p = json.loads(open(sys.argv[2]).read().split("BENCH ", 1)[1])
print(f"dgemm n={m['n']}, {m['threads']} OpenBLAS threads, best of the repeats:")
for k, unit in (("gflops", "GFLOP/s (wall)"), ("gflops_per_cpu_s", "GFLOP per CPU-second")):
    print(f"  {unit:<21}: muft {m[k]:7.1f} ({m['openblas_core']}), numpy {p[k]:7.1f} "
          f"({p['openblas_core']}); muft/numpy {m[k] / p[k]:.2f}")
PY
print_platform "$line" "$(grep -o '"openblas_core": "[^"]*"' "$tmp/python.out" | cut -d'"' -f4)" \
  "$core"
