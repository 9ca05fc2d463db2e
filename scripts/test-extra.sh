#!/usr/bin/env bash
# End-to-end check run by scripts/test.sh after the unit tests (issue 5, "CI runs it"):
# the smoke sweep with the real muft-train, status, collect, report, every figure script on the
# collected results.h5, and the theory verifier with its figure. The sweep commands run from a
# directory outside the checkout, as a new user would (paths in the spec resolve against the
# spec file, corpora through the data directory). Fails on the first failing step and prints the
# wall time of every step.
#
# Usage: scripts/test-extra.sh            (run from anywhere; uses the build in $MUFT_BUILD_DIR or build/)
# Env:   MUFT_BUILD_DIR  build directory holding bin/ (default: build)
#        MUFT_E2E_DIR    work directory to keep (default: a temporary one, removed at exit)
#        MUFT_E2E_JOBS   concurrent trainer processes (default: 2)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
build="${MUFT_BUILD_DIR:-build}"
bin="$(cd "$build/bin" 2>/dev/null && pwd || echo "$build/bin")"
# fig_gap_forest's statistics come from the muft Python module of the same build.
pypath="$(cd "$build" 2>/dev/null && pwd)/python${PYTHONPATH:+:$PYTHONPATH}"
jobs="${MUFT_E2E_JOBS:-2}"
py=/usr/bin/python3
spec="$repo/data/experiments/smoke.toml"

for exe in muft-sweep muft-train muft-verify; do
  if [[ ! -x "$bin/$exe" ]]; then
    echo "test-extra: $bin/$exe not found (build first, or set MUFT_BUILD_DIR)" >&2
    exit 1
  fi
done

if [[ -n "${MUFT_E2E_DIR:-}" ]]; then
  mkdir -p "$MUFT_E2E_DIR"
  tmp="$(cd "$MUFT_E2E_DIR" && pwd)"
else
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/muft-e2e.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
fi
runs="$tmp/smoke"
figs="$tmp/figs"
mkdir -p "$figs"

total_start=$(date +%s.%N)
# step NAME CMD...: run CMD with its output in $tmp/NAME.log; on failure print the log's tail.
step() {
  local name="$1"
  shift
  local log="$tmp/$name.log" t0 t1 rc=0
  t0=$(date +%s.%N)
  "$@" >"$log" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  printf '  %-28s %7.1f s  %s\n' "$name" "$(awk "BEGIN{print $t1 - $t0}")" \
    "$([[ $rc -eq 0 ]] && echo ok || echo "FAILED (exit $rc)")"
  if [[ $rc -ne 0 ]]; then
    echo "---- last lines of $log ----"
    tail -n 30 "$log"
    exit 1
  fi
}

# The trainer reads the real corpora (git-ignored): fetch them on a fresh clone (~5 s).
step fetch-corpora bash data/fetch_corpora.sh
echo "end-to-end: smoke sweep with the real trainer into $runs ($jobs jobs), started from $tmp"
outside="$tmp/elsewhere"
mkdir -p "$outside"
# in_outside CMD...: CMD run from a directory outside the checkout.
in_outside() { (cd "$outside" && "$@"); }
step sweep-run in_outside "$bin/muft-sweep" run "$spec" --out-dir "$runs" --jobs "$jobs" --verbose
step sweep-status in_outside "$bin/muft-sweep" status "$spec" --out-dir "$runs"
grep -E '^smoke: ([0-9]+) runs: \1 done,' "$tmp/sweep-status.log" >/dev/null || {
  echo "test-extra: expected every smoke run done:"
  cat "$tmp/sweep-status.log"
  exit 1
}
step sweep-collect in_outside "$bin/muft-sweep" collect "$spec" --out-dir "$runs" \
  --out "$runs/results.h5"
step sweep-report in_outside "$bin/muft-sweep" report "$spec" --out-dir "$runs" \
  --out "$runs/report.md" --methods-csv "$runs/methods.csv"
# The second language task (the multi-task path) reached the collected tables.
grep -q '^finetune/devil/' "$runs/results_runs.csv" || {
  echo "test-extra: the devil task is missing from results_runs.csv"
  exit 1
}
grep -q 'Table 1 analogue' "$runs/report.md" || {
  echo "test-extra: report has no Table 1"
  exit 1
}
if [[ -x "$bin/muft-stats" ]]; then
  step stats-meta "$bin/muft-stats" meta --table "$runs/methods.csv" --full-a full-adam \
    --full-b full-muon --lora-a lora-adam-r4 --lora-b lora-muon-r4 --json "$runs/meta.json"
fi
for f in notebooks-export/fig_*.py; do
  name="$(basename "$f" .py)"
  [[ "$name" == fig_implicit_bias ]] && continue
  step "$name" env MUFT_FIGURES_DIR="$figs" PYTHONPATH="$pypath" "$py" "$f" "$runs/results.h5"
  [[ -s "$figs/$name.png" ]] || {
    echo "test-extra: $f wrote no $figs/$name.png"
    exit 1
  }
done
step verify "$bin/muft-verify" --h5 "$tmp/verify.h5"
step fig_implicit_bias "$py" notebooks-export/fig_implicit_bias.py "$tmp/verify.h5" "$figs"

total_end=$(date +%s.%N)
times >"$tmp/times.txt" # in this shell, not a subshell: line 2 = user and sys time of all children
printf 'end-to-end: all steps passed in %.1f s wall; CPU time of all steps (user sys): %s\n' \
  "$(awk "BEGIN{print $total_end - $total_start}")" "$(tail -n 1 "$tmp/times.txt")"
