#!/usr/bin/env bash
# Builds the libFuzzer targets (safetensors header parser; HDF5 readers) with clang
# (ASan + UBSan) and runs each for SECONDS seconds (default 60), seeded with the
# test fixtures. Crashes are written to build-fuzz/crashes/ and the script
# exits non-zero. Usage: scripts/fuzz.sh [SECONDS] [extra libFuzzer flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
build=build-fuzz
bash scripts/install-deps.sh --no-torch >/dev/null
if ! command -v clang++ >/dev/null || ! dpkg-query -W libclang-rt-14-dev >/dev/null 2>&1; then
  echo "fuzz: installing clang and its libFuzzer runtime (Debian packages)" >&2
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null
fi
CC=clang CXX=clang++ cmake -S . -B "$build" -DMUFT_FUZZ=ON -DMUFT_BUILD_TESTS=OFF \
  -DMUFT_BUILD_APPS=OFF -DMUFT_WITH_TORCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_SKIP_INSTALL_RULES=ON >/dev/null
cmake --build "$build" --target fuzz_safetensors_header -j2
mkdir -p "$build/corpus" "$build/crashes"
find tests/checkpoint/fixtures -name '*.safetensors' -exec cp {} "$build/corpus/" \;
echo "fuzz: running fuzz_safetensors_header for ${secs}s" >&2
"$build/fuzz/fuzz_safetensors_header" "$build/corpus" \
  -dict=tests/fuzz/safetensors.dict -max_total_time="$secs" -max_len=4096 \
  -artifact_prefix="$build/crashes/" -print_final_stats=1 "$@"

# The HDF5 readers (muft checkpoints, generic HDF5) on in-memory file images, seeded with the
# HDF5 fixtures and the regression corpus of inputs that once broke them.
cmake --build "$build" --target fuzz_hdf5 -j2
mkdir -p "$build/corpus-hdf5"
find tests/checkpoint/fixtures -name '*.h5' -exec cp {} "$build/corpus-hdf5/" \;
[[ -d tests/fuzz/corpus/hdf5 ]] && cp tests/fuzz/corpus/hdf5/* "$build/corpus-hdf5/" 2>/dev/null || true
echo "fuzz: running fuzz_hdf5 for ${secs}s" >&2
# HDF5 checks its own allocations: a header claiming an absurd size must fail the malloc and
# come back as an HDF5 error, as it does outside ASan, instead of aborting the fuzzer.
ASAN_OPTIONS="allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
  LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/hdf5.lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
  "$build/fuzz/fuzz_hdf5" "$build/corpus-hdf5" \
  -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
  -artifact_prefix="$build/crashes/hdf5-" -print_final_stats=1 "$@"
