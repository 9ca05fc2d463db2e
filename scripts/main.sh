#!/usr/bin/env bash
# The README's main command: install, build, run the verification suite, draw its
# figure, then a small analysis demo on two freshly trained tiny models.
# Outputs go to $MUFT_OUT (default out/). Re-running reuses what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${MUFT_OUT:-out}
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "${MUFT_JOBS:-$(nproc)}" \
  --target muft-verify muft-analyze muft-train muft-sweep muft-stats
mkdir -p "$out"
bin=build/bin

echo
echo "== 1. muft-verify: the implicit-bias statements of Sec. 3.1 / App. D =="
"$bin/muft-verify" --json "$out/verify.json" --h5 "$out/verify.h5"
/usr/bin/python3 notebooks-export/fig_implicit_bias.py "$out/verify.h5" "$out/figures"

echo
echo "== 2. analysis demo: two tiny GPTs pretrained with Adam and Muon =="
bash data/fetch_corpora.sh
steps=${MUFT_DEMO_STEPS:-300}
for opt in adam muon; do
  run="$out/demo/pre-$opt"
  if [[ -f "$run/status.json" ]] && grep -q '"completed"' "$run/status.json"; then
    echo "$run: already completed"
    continue
  fi
  rm -rf "$run"
  "$bin/muft-train" pretrain --optimizer "$opt" --config data/experiments/smoke-model.json \
    --steps "$steps" --eval-every 50 --seed 0 --out "$run"
done
final=$(printf 'step_%06d.h5' "$steps")
echo
echo "-- spectra of the final weights --"
"$bin/muft-analyze" spectra "$out/demo/pre-adam/checkpoints/$final" \
  "$out/demo/pre-muon/checkpoints/$final" -o "$out/demo/spectra.csv"
echo
echo "-- distance travelled from the common initialization (Adam = 1.0x) --"
"$bin/muft-analyze" diff --base "$out/demo/pre-adam/checkpoints/step_000000.h5" \
  --relative-to "$out/demo/pre-adam/checkpoints/$final" \
  "$out/demo/pre-adam/checkpoints/$final" "$out/demo/pre-muon/checkpoints/$final" \
  -o "$out/demo/diff.csv"
echo
echo "-- stable rank and SVD entropy versus step, by layer group --"
"$bin/muft-analyze" series "$out/demo/pre-adam" "$out/demo/pre-muon" -o "$out/demo/series.csv"
# A readable excerpt of series.csv: the final step of each run, per layer group.
/usr/bin/python3 - "$out/demo/series.csv" "$steps" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["step"] == sys.argv[2]]
print(f"{'group':<10} {'run':<10} {'stable rank':>12} {'SVD entropy':>12}")
for r in sorted(rows, key=lambda r: (r["group"], r["run"])):
    print(f"{r['group']:<10} {r['run']:<10} {float(r['stable_rank']):>12.2f} {float(r['svd_entropy']):>12.4f}")
PY
echo
echo "Outputs in $out/: verify.json, verify.h5, figures/implicit_bias.{png,pdf}, demo/*.csv"
