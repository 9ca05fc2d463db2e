#!/usr/bin/env bash
# Benchmark: muft-analyze spectra versus a Python reference (numpy float64 SVD, torch float32
# svdvals) on a transformer-shaped float32 safetensors checkpoint (1024x1024, 4096x1024,
# 1024x4096, 11008x4096). Prints wall times, ratios, the largest relative difference in stable
# rank and SVD entropy, and muft's peak RSS versus the largest tensor.
#
# Usage: bench/analyze_bench.sh [BUILD_DIR (default build)] [WORK_DIR (default /tmp/muft-analyze-bench)]
# Goal (issue 3 §7): >= 3x faster than the faster reference at <= 1e-6 relative difference.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build}"
work="${2:-/tmp/muft-analyze-bench}"
bin="$build/bin/muft-analyze"
py=/usr/bin/python3
[ -x "$bin" ] || { echo "analyze_bench: $bin not found; build the muft-analyze target first" >&2; exit 2; }
mkdir -p "$work"
ckpt="$work/bench.safetensors"
if [ ! -f "$ckpt" ]; then
  echo "building fixture $ckpt ..."
  "$py" "$here/analyze_reference.py" "$ckpt" --make-fixture
fi
largest=$((11008 * 4096 * 4))

run_muft() {  # $1 = label, rest = extra flags
  local label="$1"; shift
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -v "$bin" spectra "$ckpt" --no-progress -o "$work/muft_$label.csv" "$@" \
    > "$work/muft_$label.log" 2> "$work/muft_$label.time"
  t1=$(date +%s.%N)
  echo "$(echo "$t1 - $t0" | bc) $(awk '/Maximum resident set size/ {print $6}' "$work/muft_$label.time")"
}

read -r t_gram rss_gram < <(run_muft gram)
read -r t_exact rss_exact < <(run_muft exact --svd exact)
read -r t_fast rss_fast < <(run_muft fast --fast)
echo "running Python reference (numpy float64, torch float32) ..."
"$py" "$here/analyze_reference.py" "$ckpt" > "$work/reference.json"

"$py" - "$work" "$t_gram" "$rss_gram" "$t_exact" "$rss_exact" "$t_fast" "$rss_fast" "$largest" <<'PY'
import csv, json, sys
work, t_gram, rss_gram, t_exact, rss_exact, t_fast, rss_fast, largest = sys.argv[1:]
ref = json.load(open(f"{work}/reference.json"))
t_np, t_th = ref["seconds"]["numpy"], ref["seconds"]["torch"]
def rows(label):
    return {r["tensor"]: r for r in csv.DictReader(open(f"{work}/muft_{label}.csv"))}
def worst(label, backend, keys):
    out = {}
    for key in keys:
        w = 0.0
        for name, r in rows(label).items():
            want = ref["tensors"][name][backend][key]
            w = max(w, abs(float(r[key]) - want) / abs(want))
        out[key] = w
    return out
best = min(t_np, t_th)
print("\n== muft-analyze spectra vs Python reference (4 matrices, largest 11008x4096 f32) ==")
print(f"{'method':<28}{'wall s':>9}{'vs numpy':>10}{'vs torch':>10}{'peak RSS MiB':>14}")
for name, t, rss in [("muft gram (default)", t_gram, rss_gram), ("muft exact (dgesdd)", t_exact, rss_exact),
                     ("muft fast (Lanczos sigma1)", t_fast, rss_fast)]:
    t = float(t)
    print(f"{name:<28}{t:9.2f}{t_np / t:9.2f}x{t_th / t:9.2f}x{int(rss) / 1024:14.0f}")
print(f"{'numpy svd float64':<28}{t_np:9.2f}")
print(f"{'torch svdvals float32':<28}{t_th:9.2f}")
print(f"\nspeed-up of muft gram over the faster reference: {best / float(t_gram):.2f}x (goal >= 3x)")
print(f"largest tensor: {largest / 2**20:.0f} MiB as float32; muft gram peak RSS "
      f"{int(rss_gram) / 1024:.0f} MiB = {int(rss_gram) * 1024 / largest:.2f}x the largest tensor "
      "(RSS includes the mapped file pages)")
for label in ("gram", "exact"):
    for backend in ("numpy", "torch"):
        w = worst(label, backend, ["stable_rank", "svd_entropy"])
        print(f"max relative difference muft {label:<5} vs {backend:<5}: stable rank {w['stable_rank']:.2e}, "
              f"entropy {w['svd_entropy']:.2e}")
w = worst("fast", "numpy", ["stable_rank"])
print(f"max relative difference muft fast  vs numpy: stable rank {w['stable_rank']:.2e}")
PY
