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
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
MUFT_BENCH_STEPS=$STEPS MUFT_BENCH_THREADS=$THREADS MUFT_BENCH_BATCH=$BATCH MUFT_BENCH_CASES=$CASES \
  "$BIN" --gtest_also_run_disabled_tests --gtest_filter='*StepBench*' | grep '^BENCH ' |
  sed 's/^BENCH //' > "$tmp/muft.jsonl"
/usr/bin/python3 "$HERE/train_reference.py" --steps "$STEPS" --threads "$THREADS" --batch "$BATCH" \
  --cases "$CASES" | grep '^BENCH ' | sed 's/^BENCH //' > "$tmp/python.jsonl"
/usr/bin/python3 - "$tmp/muft.jsonl" "$tmp/python.jsonl" <<'PY'
import json, sys
muft = {r["case"]: r for r in map(json.loads, open(sys.argv[1]))}
py = {r["case"]: r for r in map(json.loads, open(sys.argv[2]))}
print(f"{'case':16s} {'muft tok/s':>11s} {'python tok/s':>13s} {'muft/python':>11s} "
      f"{'muft step ms':>12s} {'muft opt ms':>11s} {'py opt ms':>9s}")
for case in muft:
    m, p = muft[case], py.get(case)
    ratio = m["tokens_per_s"] / p["tokens_per_s"] if p else float("nan")
    print(f"{case:16s} {m['tokens_per_s']:11.0f} {p['tokens_per_s'] if p else float('nan'):13.0f} "
          f"{ratio:11.2f} {m['step_ms']:12.1f} {m['optimizer_ms']:11.2f} "
          f"{p['optimizer_ms'] if p else float('nan'):9.2f}")
adam = muft.get("full-adam")
for mode in ("full", "lora"):
    a = muft.get(f"{mode}-adam")
    for opt in ("muon", "muon-f32"):
        m = muft.get(f"{mode}-{opt}")
        if a and m:
            r = m["step_ms"] / a["step_ms"]
            print(f"{mode:4s} {opt:8s}/adam step-time ratio: {r:.3f} "
                  f"({'met' if r <= 1.2 else 'MISSED'} goal <= 1.2)")
if adam and "full-adam" in py:
    r = adam["tokens_per_s"] / py["full-adam"]["tokens_per_s"]
    print(f"full-adam muft/python tokens/s: {r:.2f} ({'met' if r >= 1.3 else 'MISSED'} goal >= 1.3)")
PY
echo "machine: $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); threads $THREADS"
