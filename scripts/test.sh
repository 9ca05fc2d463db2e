#!/usr/bin/env bash
# The README's test command: install dependencies, build everything, run every
# test once: the LibTorch-free modules' unit tests under ASan+UBSan (their sanitizer build), the
# LibTorch, Python-module, sweep/CLI and package tests in the Release build (the sweep and CLI ones
# in both); then check formatting and run the end-to-end smoke (scripts/test-extra.sh). The
# Release build skips compiling the unit tests the sanitizer build runs anyway (CI time: see
# README); `scripts/build.sh -DMUFT_BUILD_TESTS=ON -DMUFT_TEST_DIRS=all` builds every suite.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/install-deps.sh
jobs=${MUFT_JOBS:-$(nproc)}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
passed=0
failed=0
# count LOG: add ctest's "N tests failed out of M" to the totals.
count() {
  local line f m
  line=$(grep -E 'tests? failed out of [0-9]+' "$1" | tail -n 1)
  f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  m=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  passed=$((passed + m - f))
  failed=$((failed + f))
}

echo "== build (Release) =="
bash scripts/build.sh -DMUFT_BUILD_TESTS=ON -DMUFT_TEST_DIRS="train;python;sweep;apps;package"
echo "== tests (Release) =="
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 900 | tee "$logs/release.log"
count "$logs/release.log"

echo "== build (ASan + UBSan, without LibTorch) =="
# -O1 -g1 (line tables, enough for ASan's reports) compiles in half the time of
# RelWithDebInfo's -O2 -g, and -O1 is what the sanitizers' documentation recommends.
MUFT_BUILD_DIR=build-asan bash scripts/build.sh -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DMUFT_SANITIZE=ON -DMUFT_WITH_TORCH=OFF -DMUFT_BUILD_TESTS=ON
echo "== tests (ASan + UBSan) =="
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 900 -LE slow |
  tee "$logs/asan.log"
count "$logs/asan.log"

echo "== format =="
bash scripts/check-format.sh
passed=$((passed + 1))

echo "== end-to-end =="
bash scripts/test-extra.sh
passed=$((passed + 1))

echo "== all tests done in $(($(date +%s) - start)) s =="
echo "summary: $passed passed, $failed failed"
