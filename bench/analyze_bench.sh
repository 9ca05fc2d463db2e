#!/usr/bin/env bash
# Benchmark: muft-analyze spectra versus a Python reference (numpy float64 SVD, torch float32
# svdvals) on a transformer-shaped float32 safetensors checkpoint (1024x1024, 4096x1024,
# 1024x4096, 11008x4096). Prints wall and CPU times, ratios, the largest relative difference in
# stable rank and SVD entropy, and muft's peak RSS versus the largest tensor.
#
# Usage: bench/analyze_bench.sh [BUILD_DIR (default build)] [WORK_DIR (default /tmp/muft-analyze-bench)]
# Env: MUFT_BENCH_SKIP_EXACT=1 skips the (slow) --svd exact run.
# Goal (issue 3 §7): >= 3x faster than the faster reference at <= 1e-6 relative difference.
# On a shared machine compare the CPU-time column too: wall times move with the load average.
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
ckpt="$work/bench.safetensors"
if [ ! -f "$ckpt" ]; then
  echo "building fixture $ckpt ..."
  "$py" "$here/analyze_reference.py" "$ckpt" --make-fixture
fi
largest=$((11008 * 4096 * 4))
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"

run_muft() {  # $1 = label, rest = extra flags; prints "wall cpu rss_kb"
  local label="$1"; shift
  /usr/bin/time -v "$bin" spectra "$ckpt" --no-progress -o "$work/muft_$label.csv" "$@" \
    > "$work/muft_$label.log" 2> "$work/muft_$label.time"
  awk '/Elapsed \(wall clock\)/ {n = split($NF, a, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + a[i]}
       /User time/ {u = $NF} /System time/ {s = $NF} /Maximum resident/ {r = $NF}
       END {print w, u + s, r}' "$work/muft_$label.time"
}

read -r t_gram c_gram rss_gram < <(run_muft gram)
if [ "${MUFT_BENCH_SKIP_EXACT:-0}" = 1 ]; then
  t_exact=nan; c_exact=nan; rss_exact=0
else
  read -r t_exact c_exact rss_exact < <(run_muft exact --svd exact)
fi
read -r t_fast c_fast rss_fast < <(run_muft fast --fast)
line=$(platform_line "$work/muft_gram.time")
core=$(python_coretype "$line")
grep -v '^muft platform:' "$work/muft_gram.time" | grep 're-running with' || true
echo "running Python reference (numpy float64, torch float32) ..."
run_python "$core" "$py" "$here/analyze_reference.py" "$ckpt" > "$work/reference.json"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

"$py" - "$work" "$largest" "$t_gram" "$c_gram" "$rss_gram" "$t_exact" "$c_exact" "$rss_exact" \
  "$t_fast" "$c_fast" "$rss_fast" <<'PY'
import csv, json, math, os, sys
work, largest = sys.argv[1], int(sys.argv[2])
runs = {}
for i, label in enumerate(("gram", "exact", "fast")):
    t, c, r = sys.argv[3 + 3 * i: 6 + 3 * i]
    runs[label] = (float(t), float(c), int(r))
ref = json.load(open(f"{work}/reference.json"))
t_np, t_th = ref["seconds"]["numpy"], ref["seconds"]["torch"]
c_np, c_th = ref["cpu_seconds"]["numpy"], ref["cpu_seconds"]["torch"]
def rows(label):
    return {r["tensor"]: r for r in csv.DictReader(open(f"{work}/muft_{label}.csv"))}
def worst(label, backend, key):
    w = 0.0
    for name, r in rows(label).items():
        want = ref["tensors"][name][backend][key]
        w = max(w, abs(float(r[key]) - want) / abs(want))
    return w
print("\n== muft-analyze spectra vs Python reference (4 matrices, largest 11008x4096 f32) ==")
print(f"{'method':<28}{'wall s':>8}{'cpu s':>8}{'wall vs np':>11}{'wall vs torch':>14}{'cpu vs torch':>13}{'RSS MiB':>9}")
names = {"gram": "muft gram (default)", "exact": "muft exact (dgesdd)", "fast": "muft fast (Lanczos s1)"}
for label, (t, c, r) in runs.items():
    if math.isnan(t):
        continue
    print(f"{names[label]:<28}{t:8.2f}{c:8.2f}{t_np / t:10.2f}x{t_th / t:13.2f}x{c_th / c:12.2f}x{r / 1024:9.0f}")
print(f"{'numpy svd float64':<28}{t_np:8.2f}{c_np:8.2f}")
print(f"{'torch svdvals float32':<28}{t_th:8.2f}{c_th:8.2f}")
t, c, r = runs["gram"]
print(f"\nmuft gram vs the faster reference: wall {min(t_np, t_th) / t:.2f}x, "
      f"cpu {min(c_np, c_th) / c:.2f}x (goal >= 3x)")
print(f"largest tensor {largest / 2**20:.0f} MiB (float32); muft gram peak RSS {r / 1024:.0f} MiB = "
      f"{r * 1024 / largest:.2f}x the largest tensor (RSS includes the mapped file pages)")
for label in ("gram", "exact"):
    if math.isnan(runs[label][0]):
        continue
    for backend in ("numpy", "torch"):
        print(f"max relative difference muft {label:<5} vs {backend:<5}: stable rank "
              f"{worst(label, backend, 'stable_rank'):.2e}, entropy {worst(label, backend, 'svd_entropy'):.2e}")
print(f"max relative difference muft fast  vs numpy: stable rank {worst('fast', 'numpy', 'stable_rank'):.2e}")
PY
print_platform "$line" "$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["openblas_core"])' \
  "$work/reference.json")" "$core"
