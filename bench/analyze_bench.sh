#!/usr/bin/env bash
# Benchmark: muft-analyze spectra versus the Python scripts a user would write, side by side in
# one run, on float32 safetensors fixtures:
#   bench  4 transformer-shaped matrices (1024x1024, 4096x1024, 1024x4096, 11008x4096)
#   model  2 TinyLlama-shaped blocks, 14 matrices (2048x2048 x4, 5632x2048 x2, 2048x5632 per block)
#   small, small-model  the same at 1/8 of the size (seconds; to try the script out)
# References (bench/analyze_reference.py, same OpenBLAS core as muft): numpy float64 Gram +
# eigvalsh (the strongest short script), numpy float64 svd, torch float32 svdvals.
# Prints per config: wall and CPU times and ratios (goals of issue 11 §6: >= 2x the numpy Gram
# script in wall and CPU, >= 4x torch svdvals; on `model` >= 2x the numpy loop's throughput), the
# machine's limit for the work (syrk m*n^2 plus (4/3) n^3 for the eigensolve, at the dgemm rate
# measured in the same run) and muft's fraction of it, peak memory without the mapped file pages
# versus 1.5 x (largest tensor + its Gram matrix), and the largest relative difference in stable
# rank and SVD entropy against each reference (goal <= 1e-6).
#
# Usage: bench/analyze_bench.sh [BUILD_DIR (default build)] [WORK_DIR (default /tmp/muft-analyze-bench)]
# Env: MUFT_BENCH_CONFIGS   configs to run (default "bench model"; try "small small-model")
#      MUFT_BENCH_SKIP_EXACT=1      skip muft's (slow) --svd exact run
#      MUFT_BENCH_SKIP_NUMPY_SVD=1  skip the (slowest) numpy svd reference
# Final numbers need an idle machine: wall times move with the load average (printed before and
# after); the CPU-time columns are steadier.
# Both sides run on the same OpenBLAS core (bench/platform.sh): muft-analyze applies
# muft::platform's start-up (re-running itself when OpenBLAS fell back to old kernels) and the
# reference gets the OPENBLAS_CORETYPE muft ran with; the last lines say which core each used.
# Effect of the fallback on a machine whose OpenBLAS recognizes its CPU:
#   OPENBLAS_CORETYPE=Prescott bench/analyze_bench.sh              # both sides on Prescott
#   MUFT_PLATFORM_ASSUME_CORENAME=Prescott bench/analyze_bench.sh  # muft re-executes itself
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build}"
work="${2:-/tmp/muft-analyze-bench}"
bin="$build/bin/muft-analyze"
py=/usr/bin/python3
[ -x "$bin" ] || { echo "analyze_bench: $bin not found; build the muft-analyze target first" >&2; exit 2; }
# shellcheck source=bench/platform.sh
source "$here/platform.sh"
mkdir -p "$work"
backends=numpy_gram,torch
[ "${MUFT_BENCH_SKIP_NUMPY_SVD:-0}" = 1 ] || backends=$backends,numpy

run_muft() {  # $1 = config, $2 = label, rest = extra flags; writes $work/$1_muft_$2.{csv,log,err,json}
  # Two runs: the times come from one without memory sampling (sampling /proc every 2 ms takes
  # CPU from a 2-core machine), the peak memory from a second, sampled one (_mem.json).
  local cfg="$1" label="$2"
  shift 2
  "$py" "$here/peak_mem.py" --no-sample "$work/${cfg}_muft_$label.json" \
    "$bin" spectra "$work/$cfg.safetensors" --no-progress -o "$work/${cfg}_muft_$label.csv" "$@" \
    > "$work/${cfg}_muft_$label.log" 2> "$work/${cfg}_muft_$label.err"
  "$py" "$here/peak_mem.py" "$work/${cfg}_muft_${label}_mem.json" \
    "$bin" spectra "$work/$cfg.safetensors" --no-progress -o "$work/${cfg}_muft_${label}_mem.csv" "$@" \
    > /dev/null 2>&1
}

for cfg in ${MUFT_BENCH_CONFIGS:-bench model}; do
  ckpt="$work/$cfg.safetensors"
  if [ ! -f "$ckpt" ]; then
    echo "building fixture $ckpt ..."
    "$py" "$here/analyze_reference.py" "$ckpt" --make-fixture "$cfg"
  fi
  echo
  echo "== config $cfg: load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
  labels=gram
  run_muft "$cfg" gram
  if [ "${MUFT_BENCH_SKIP_EXACT:-0}" != 1 ] && [[ "$cfg" != *model ]]; then
    run_muft "$cfg" exact --svd exact
    labels="$labels exact"
  fi
  run_muft "$cfg" fast --fast
  labels="$labels fast"
  line=$(platform_line "$work/${cfg}_muft_gram.err")
  core=$(python_coretype "$line")
  grep 're-running with' "$work/${cfg}_muft_gram.err" || true
  echo "running Python references ($backends) ..."
  run_python "$core" "$py" "$here/analyze_reference.py" "$ckpt" --backends "$backends" --dgemm \
    > "$work/${cfg}_reference.json"
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$py" "$here/analyze_report.py" "$work" "$cfg" $labels
  print_platform "$line" "$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["openblas_core"])' \
    "$work/${cfg}_reference.json")" "$core"
done
