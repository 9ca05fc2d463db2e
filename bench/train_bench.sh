#!/usr/bin/env bash
# Step-level speed of muft's LibTorch training step for the default ("tiny") GPT against the same
# model and step written in Python on Debian's python3-torch (bench/train_reference.py), side by
# side, plus the Muon/Adam step-time ratio for full fine-tuning and LoRA.
# Goals (issue 4, §7): muft tokens/s >= 1.3x Python; Muon step / Adam step <= 1.2.
#
# Usage: bench/train_bench.sh [BUILD_DIR] [STEPS] [THREADS]
#   BUILD_DIR: a build with -DMUFT_BUILD_TESTS=ON where train_gpt_bench_test is built
#              (cmake --build BUILD_DIR --target train_gpt_bench_test); default build
#   STEPS:     timed steps per case (default 20; 3 warm-up steps are not timed)
#   THREADS:   LibTorch / torch intra-op threads for both sides (default 1: fastest here)
# The C++ side is a DISABLED_ GoogleTest (never run by ctest), called explicitly below.
# Cases: {full,lora}-{adam,muon,muon-f32}; "muon" iterates Newton-Schulz in bfloat16 (the
# paper's setting), "muon-f32" in float32. Batch 16 x 128 tokens.
# Both sides run on the same OpenBLAS core (bench/platform.sh): the C++ bench applies
# muft::platform's start-up (re-running itself when OpenBLAS fell back to old kernels) and the
# Python reference gets the OPENBLAS_CORETYPE muft ran with; the last lines say which core each used.
# Effect of the fallback on a machine whose OpenBLAS recognizes its CPU:
#   OPENBLAS_CORETYPE=Prescott bench/train_bench.sh              # both sides on Prescott
#   MUFT_PLATFORM_ASSUME_CORENAME=Prescott bench/train_bench.sh  # muft re-executes itself
set -euo pipefail
BUILD=${1:-build}
STEPS=${2:-20}
THREADS=${3:-1}
BATCH=${MUFT_BENCH_BATCH:-16}
BIN="$BUILD/tests/train_gpt_bench_test"
HERE=$(cd "$(dirname "$0")" && pwd)
if [[ ! -x "$BIN" ]]; then
  echo "train_bench: no executable '$BIN' (build it: cmake --build $BUILD --target train_gpt_bench_test)" >&2
  exit 2
fi
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "train_bench: /usr/bin/python3 cannot import torch (apt-get install python3-torch)" >&2
  exit 2
fi
CASES=${MUFT_BENCH_CASES:-full-adam,full-muon,full-muon-f32,lora-adam,lora-muon,lora-muon-f32}
# One BLAS thread on both sides: OpenBLAS otherwise starts its own pthreads next to LibTorch's.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
# shellcheck source=bench/platform.sh
source "$HERE/platform.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
MUFT_BENCH_STEPS=$STEPS MUFT_BENCH_THREADS=$THREADS MUFT_BENCH_BATCH=$BATCH MUFT_BENCH_CASES=$CASES \
  "$BIN" --gtest_also_run_disabled_tests --gtest_filter='*StepBench*' 2> "$tmp/muft.err" |
  grep '^BENCH ' | sed 's/^BENCH //' > "$tmp/muft.jsonl"
line=$(platform_line "$tmp/muft.err")
core=$(python_coretype "$line")
grep 're-running with' "$tmp/muft.err" || true
run_python "$core" /usr/bin/python3 "$HERE/train_reference.py" --steps "$STEPS" \
  --threads "$THREADS" --batch "$BATCH" --cases "$CASES" | grep '^BENCH ' | sed 's/^BENCH //' \
  > "$tmp/python.jsonl"
/usr/bin/python3 - "$tmp/muft.jsonl" "$tmp/python.jsonl" <<'PY'
import json, sys
muft = {r["case"]: r for r in map(json.loads, open(sys.argv[1]))}
py = {r["case"]: r for r in map(json.loads, open(sys.argv[2]))}
nan = float("nan")
print("tokens/s from process CPU time (robust to other jobs on the cores) and from wall time")
print(f"{'case':14s} {'muft cpu':>9s} {'py cpu':>9s} {'ratio':>6s} | {'muft wall':>9s} "
      f"{'py wall':>9s} {'ratio':>6s} | {'muft opt ms':>11s} {'py opt ms':>9s}")
for case, m in muft.items():
    p = py.get(case, {})
    rc = m["cpu_tokens_per_s"] / p["cpu_tokens_per_s"] if p else nan
    rw = m["tokens_per_s"] / p["tokens_per_s"] if p else nan
    print(f"{case:14s} {m['cpu_tokens_per_s']:9.0f} {p.get('cpu_tokens_per_s', nan):9.0f} "
          f"{rc:6.2f} | {m['tokens_per_s']:9.0f} {p.get('tokens_per_s', nan):9.0f} {rw:6.2f} | "
          f"{m['optimizer_cpu_ms']:11.2f} {p.get('optimizer_cpu_ms', nan):9.2f}")
for mode in ("full", "lora"):
    a = muft.get(f"{mode}-adam")
    for opt in ("muon", "muon-f32"):
        m = muft.get(f"{mode}-{opt}")
        if a and m:
            r = m["cpu_step_ms"] / a["cpu_step_ms"]
            # Same forward/backward in both cases: the optimizer-time difference over the Adam
            # step is the less noisy estimate when other jobs perturb the whole-step timings.
            ri = 1 + (m["optimizer_cpu_ms"] - a["optimizer_cpu_ms"]) / a["cpu_step_ms"]
            print(f"muft {mode} {opt}/adam step-time ratio (CPU): measured {r:.3f}, "
                  f"from optimizer time {ri:.3f} ({'met' if max(r, ri) <= 1.2 else 'MISSED'} "
                  f"goal <= 1.2)")
for case in ("full-adam", "full-muon"):
    if case in muft and case in py:
        r = muft[case]["cpu_tokens_per_s"] / py[case]["cpu_tokens_per_s"]
        print(f"{case} muft/python tokens/s (CPU): {r:.2f} "
              f"({'met' if r >= 1.3 else 'MISSED'} goal >= 1.3)")
PY
echo "threads $THREADS"
print_platform "$line" "$(grep -o '"openblas_core": "[^"]*"' "$tmp/python.jsonl" | head -n 1 |
  cut -d'"' -f4)" "$core"
