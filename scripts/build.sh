#!/usr/bin/env bash
# Configure and build muft into build/ (Release). Extra arguments go to cmake.
# Environment: MUFT_BUILD_DIR (default build), MUFT_JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${MUFT_BUILD_DIR:-build}
jobs=${MUFT_JOBS:-$(nproc)}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$dir" -j "$jobs"
