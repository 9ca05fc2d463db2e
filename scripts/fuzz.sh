#!/usr/bin/env bash
# Builds the libFuzzer target of the safetensors header parser with clang
# (ASan + UBSan) and runs it for SECONDS seconds (default 60), seeded with the
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

# The PyTorch and GGUF readers: one target each for the restricted unpickler, the
# zip directory of a torch.save archive and the GGUF header, SECONDS seconds each,
# seeded by tests/fuzz/make_seeds.py.
cmake --build "$build" --target fuzz_pickle fuzz_torch_zip fuzz_gguf_header -j2
/usr/bin/python3 tests/fuzz/make_seeds.py "$build/seeds"
for pair in pickle:pickle torch_zip:zip gguf_header:gguf; do
  target="${pair%%:*}" kind="${pair##*:}"
  mkdir -p "$build/corpus-$kind"
  cp "$build/seeds/$kind/"* "$build/corpus-$kind/"
  echo "fuzz: running fuzz_$target for ${secs}s" >&2
  "$build/fuzz/fuzz_$target" "$build/corpus-$kind" -dict="tests/fuzz/$kind.dict" \
    -max_total_time="$secs" -max_len=4096 -artifact_prefix="$build/crashes/" \
    -print_final_stats=1 "$@"
done
