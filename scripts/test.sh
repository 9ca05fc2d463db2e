#!/usr/bin/env bash
# The README's test command: install dependencies, build everything, run every
# test; then rebuild the LibTorch-free modules under ASan+UBSan and run their
# tests; then check formatting and that the figure scripts run.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/install-deps.sh
jobs=${MUFT_JOBS:-$(nproc)}

echo "== build (Release) =="
bash scripts/build.sh -DMUFT_BUILD_TESTS=ON
echo "== tests (Release) =="
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 900

echo "== build (ASan + UBSan, without LibTorch) =="
MUFT_BUILD_DIR=build-asan bash scripts/build.sh -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMUFT_SANITIZE=ON -DMUFT_WITH_TORCH=OFF -DMUFT_BUILD_TESTS=ON
echo "== tests (ASan + UBSan) =="
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 900 -LE slow

if [[ -x scripts/check-format.sh ]]; then
  echo "== format =="
  bash scripts/check-format.sh
fi
if [[ -x scripts/test-extra.sh ]]; then
  echo "== end-to-end =="
  bash scripts/test-extra.sh
fi
echo "== all tests done in $(( $(date +%s) - start )) s =="
