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
check "unknown check" 2 "$BIN" --only no-such-check
check "zero instances" 2 "$BIN" --instances 0
check "negative instances" 2 "$BIN" --instances -4
check "non-numeric seed" 2 "$BIN" --seed abc
check "unknown flag" 2 "$BIN" --frobnicate
check "bad lower" 2 "$BIN" coefficients --lower 0
check "bad iterations" 2 "$BIN" coefficients --iterations -1
check "unwritable json" 2 "$BIN" --only lemma-d1 --json /nonexistent-dir/x.json
check "unwritable h5" 2 "$BIN" --only lemma-d1 --h5 /nonexistent-dir/x.h5
if [[ $fails -ne 0 ]]; then echo "$fails failure(s)"; exit 1; fi
echo "all CLI checks passed"
