#!/usr/bin/env bash
# Install every dependency of muft from Debian packages. Idempotent: when all
# packages are present it only runs dpkg-query and exits in well under a second.
#
# Usage: scripts/install-deps.sh [--no-torch]
#   --no-torch   skip LibTorch and python3-torch (theory/analysis/stats only)
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang-format
  libeigen3-dev libspectra-dev libboost-math-dev libhdf5-dev
  libfmt-dev libgtest-dev libcli11-dev nlohmann-json3-dev libopenblas-dev libtomlplusplus-dev
  python3-matplotlib python3-h5py python3-numpy
  python3-dev pybind11-dev python3-pybind11 python3-pytest
)
TORCH_PKGS=(libtorch-dev libgloo-dev python3-torch)

want=("${PKGS[@]}")
if [[ "${1:-}" != "--no-torch" ]]; then
  want+=("${TORCH_PKGS[@]}")
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
