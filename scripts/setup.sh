#!/usr/bin/env bash
# One-time set-up of a fresh Debian 12 / Ubuntu machine: the system packages this project needs
# (libtorch, a fast BLAS, TurboJPEG, and the Python reference implementations the tests compare against),
# the npm packages, and the build. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  libtorch-dev          # libtorch 1.13 (CPU): the engine
  libgloo-dev           # Gloo's headers: multi-process training through c10d (native/src/distributed.cc)
  libopenblas0-pthread  # without it, matrix products fall back to the slow reference BLAS
  libturbojpeg0-dev     # JPEG decoding in the image addon (native/image), as PIL decodes
  liblinear-dev         # the linear SVMs of VISSL's SVM benchmark (native/liblinear)
  python3-torch python3-torchvision python3-numpy python3-faiss libfaiss-dev python3-sklearn python3-opencv  # the test oracles
  chromium              # the explorer's browser tests (driven by playwright-core)
  iproute2              # ip netns: the 2-machine fault test builds its hosts in network namespaces
  g++ make
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ -f package-lock.json ]]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
npm run build
