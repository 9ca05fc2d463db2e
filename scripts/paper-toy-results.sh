#!/usr/bin/env bash
# Turns a finished paper-toy sweep into the committed results: collect (with the checkpoint
# analysis), the staged report with its methods and verdicts tables, the runs table, and every
# figure. Run from the repository root after `muft-sweep run data/experiments/paper-toy.toml`.
#
# Usage: scripts/paper-toy-results.sh [BIN_DIR]   (default build/bin)
# Writes: runs/paper-toy/results.h5 (+ _runs.csv, _metrics.csv), docs/results/paper-toy-*.{md,csv},
#         docs/figures/fig_*.{png,pdf}
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bin="${1:-build/bin}"
spec=data/experiments/paper-toy.toml
res=runs/paper-toy/results.h5
"$bin/muft-sweep" status "$spec"
"$bin/muft-sweep" collect "$spec" --out "$res"
mkdir -p docs/results
"$bin/muft-sweep" report "$spec" --out docs/results/paper-toy-report.md \
  --methods-csv docs/results/paper-toy-methods.csv \
  --verdicts-csv docs/results/paper-toy-verdicts.csv
cp runs/paper-toy/results_runs.csv docs/results/paper-toy-runs.csv
for f in notebooks-export/fig_*.py; do
  [[ "$(basename "$f")" == fig_implicit_bias.py ]] && continue
  /usr/bin/python3 "$f" "$res"
done
echo "paper-toy-results: report, tables and figures written"
