#!/usr/bin/env bash
# End-to-end checks of the muft-verify command line: outputs, exit codes and one-line errors.
# Usage: verify_cli_test.sh path/to/muft-verify
set -u
BIN=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0
check() {  # check <description> <expected exit> <command...>
  local what=$1 want=$2
  shift 2
  "$@" > "$TMP/out" 2> "$TMP/err"
  local rc=$?
  if [[ $rc -ne $want ]]; then
    echo "FAIL: $what: exit $rc, expected $want"; cat "$TMP/err"; fails=$((fails + 1)); return
  fi
  if [[ $want -ne 0 ]]; then
    local lines
    lines=$(wc -l < "$TMP/err")
    if [[ $lines -ne 1 ]] || ! grep -q "error" "$TMP/err"; then
      echo "FAIL: $what: expected one error line, got:"; cat "$TMP/err"; fails=$((fails + 1)); return
    fi
  fi
  echo "ok: $what"
}
check "help" 0 "$BIN" --help
check "list" 0 "$BIN" --list
check "one check with outputs" 0 "$BIN" --only lemma-d1 cor-d6-thresholds --instances 5 --seed 3 \
  --json "$TMP/v.json" --h5 "$TMP/v.h5"
grep -q '"all_pass": true' "$TMP/v.json" || { echo "FAIL: JSON lacks all_pass"; fails=$((fails + 1)); }
[[ -s "$TMP/v.h5" ]] || { echo "FAIL: empty HDF5"; fails=$((fails + 1)); }
check "coefficients" 0 "$BIN" coefficients --lower 1e-3 --iterations 10 --safety 0 \
  --cushion 0.02407327424182761 --json "$TMP/c.json"
grep -q "8.2872120181" "$TMP/out" || { echo "FAIL: first PE triple not printed"; fails=$((fails + 1)); }
# Bad input: exit 1 and one error line (docs/cli.md), CLI11 parse errors included.
check "unknown check" 1 "$BIN" --only no-such-check
check "zero instances" 1 "$BIN" --instances 0
check "negative instances" 1 "$BIN" --instances -4
check "too many instances" 1 "$BIN" --instances 1000001
check "non-numeric seed" 1 "$BIN" --seed abc
check "unknown flag" 1 "$BIN" --frobnicate
check "missing value" 1 "$BIN" --instances
check "unknown subcommand flag" 1 "$BIN" coefficients --frobnicate
check "bad lower" 1 "$BIN" coefficients --lower 0
check "bad iterations" 1 "$BIN" coefficients --iterations -1
check "unwritable json" 1 "$BIN" --only lemma-d1 --json /nonexistent-dir/x.json
check "unwritable h5" 1 "$BIN" --only lemma-d1 --h5 /nonexistent-dir/x.h5
# Seeds: CLI11 alone turns -1 and 2^64 into 2^64 - 1 without a word.
check "seed -1" 1 "$BIN" --only lemma-d1 --instances 1 --seed -1
grep -q "must be an integer in \[0, 18446744073709551615\], got '-1'" "$TMP/err" ||
  { echo "FAIL: seed message: $(cat "$TMP/err")"; fails=$((fails + 1)); }
check "seed 2^64" 1 "$BIN" --only lemma-d1 --instances 1 --seed 18446744073709551616
check "seed 1e3" 1 "$BIN" --only lemma-d1 --instances 1 --seed 1e3
check "seed 2^64-1" 0 "$BIN" --only lemma-d1 --instances 1 --seed 18446744073709551615 \
  --json "$TMP/max.json"
grep -q '"seed": 18446744073709551615' "$TMP/max.json" ||
  { echo "FAIL: seed 2^64-1 not kept"; fails=$((fails + 1)); }
# Two outputs on one file are refused, however the path is spelled; the file is left alone.
mkdir -p "$TMP/sub"
echo keep > "$TMP/keep.json"
ln -s keep.json "$TMP/link.json"
ln "$TMP/keep.json" "$TMP/hard.json"
for h5 in keep.json ./keep.json sub/../keep.json link.json hard.json; do
  check "--json keep.json --h5 $h5" 1 "$BIN" --only lemma-d1 --instances 1 \
    --json "$TMP/keep.json" --h5 "$TMP/$h5"
done
[[ $(cat "$TMP/keep.json") == keep ]] || { echo "FAIL: keep.json overwritten"; fails=$((fails + 1)); }
check "--version" 0 "$BIN" --version
if [[ $fails -ne 0 ]]; then echo "$fails failure(s)"; exit 1; fi
echo "all CLI checks passed"
