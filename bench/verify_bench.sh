#!/usr/bin/env bash
# Times the default muft-verify suite (every check, default instances) against its 30 s goal
# on a 2-core machine, and the Polar Express generator. Prints wall times and the ratio
# time/goal (< 1 means the goal is met). Usage: bench/verify_bench.sh [path/to/muft-verify] [runs]
set -euo pipefail
BIN=${1:-build/bin/muft-verify}
RUNS=${2:-3}
GOAL_S=30
if [[ ! -x "$BIN" ]]; then
  echo "verify_bench: no executable '$BIN' (build it: cmake --build build --target muft-verify)" >&2
  exit 2
fi
now() { date +%s.%N; }
best=""
for ((i = 1; i <= RUNS; i++)); do
  t0=$(now)
  if ! "$BIN" > /dev/null; then
    echo "verify_bench: muft-verify reported a FAIL or an error on run $i" >&2
    exit 1
  fi
  t1=$(now)
  dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  printf 'run %d: default suite %.2f s\n' "$i" "$dt"
  if [[ -z "$best" ]] || awk -v a="$dt" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$dt; fi
done
awk -v t="$best" -v g="$GOAL_S" -v n="$RUNS" 'BEGIN {
  printf "best of %d: %.2f s; goal %d s; ratio time/goal = %.3f (%s)\n", n, t, g, t / g,
         (t < g) ? "met" : "MISSED" }'
t0=$(now)
for _ in $(seq 20); do "$BIN" coefficients > /dev/null; done
t1=$(now)
awk -v a="$t0" -v b="$t1" 'BEGIN {
  printf "Polar Express table (l=1e-3, K=10), incl. process start: %.2f ms per call\n", (b - a) * 50 }'
echo "machine: $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
