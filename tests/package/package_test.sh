#!/usr/bin/env bash
# CTest package_consumer: installs the libraries, headers and CMake files of the muft build
# (install component "dev") into a temporary prefix, configures tests/package against that
# prefix only, builds it with the same compiler and build type, and runs the consumer.
# Usage: package_test.sh BUILD_DIR SOURCE_DIR CXX_COMPILER BUILD_TYPE
set -euo pipefail
build=$1
src=$2
cxx=$3
type=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
step() {  # step NAME CMD...: runs CMD, shows its log only when it fails
  local name=$1
  shift
  if ! "$@" > "$tmp/$name.log" 2>&1; then
    cat "$tmp/$name.log"
    echo "package_test: $name failed" >&2
    exit 1
  fi
}
step install cmake --install "$build" --component dev --prefix "$tmp/prefix"
[[ -f "$tmp/prefix/lib/cmake/muft/muftConfigVersion.cmake" ]] || {
  echo "package_test: no version file installed" >&2
  exit 1
}
step configure cmake -S "$src/tests/package" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DMUFT_EXPECTED_PREFIX="$tmp/prefix" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE="$type" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
grep 'muft .* from' "$tmp/configure.log"
step build cmake --build "$tmp/build" -j 2
"$tmp/build/muft_consumer"
