#!/usr/bin/env bash
# The CUDA compile leg, run inside the Debian 13 root by scripts/stacks/debian13.sh (cuda): builds the native
# addon against Debian's CUDA libtorch 2.6 with CUDA and NCCL on. Nothing runs on a GPU: this proves that the
# CUDA-only code (native/src/cuda.cc's allocator statistics, ProcessGroupNCCL in distributed.cc) compiles and
# links against a real CUDA libtorch on every change.
#
# Debian's CUDA packages are downloaded (apt-get download) into a cache and unpacked with dpkg-deb -x into
# their own prefix, for their headers and libraries only: never installed, so the CPU libtorch-dev the other
# legs use stays as it is (libtorch-cuda-dev conflicts with it). The build then finds everything through
# LIBTORCH=<prefix>/usr (scripts/libtorch.mjs, scripts/cuda-headers.mjs). The leg fails on any compile
# error, and when the build switched CUDA, its headers or NCCL off (it names what was missing).
set -euo pipefail
cd "$(dirname "$0")/../.."

packages=(libtorch-cuda-dev libtorch-cuda-2.6 nvidia-cuda-dev libnccl-dev libcu++-dev)
debs=/var/cache/clusterfit-cuda/debs
prefix=/opt/clusterfit-cuda

apt-get update -qq
mkdir -p "$debs"
files=()
for package in "${packages[@]}"; do
  version=$(apt-cache show --no-all-versions "$package" 2>/dev/null | awk '/^Version:/ { print $2; exit }')
  [[ -n $version ]] || {
    echo "cuda-compile: $package is not in Debian 13's index (contrib and non-free must be enabled)" >&2
    exit 1
  }
  pattern="${package}_${version//:/%3a}_*.deb"
  # shellcheck disable=SC2206 # the glob is the point
  found=($debs/$pattern)
  if [[ ! -f ${found[0]} ]]; then
    echo "cuda-compile: downloading $package $version"
    (cd "$debs" && apt-get download -qq "$package")
    found=($debs/$pattern)
  fi
  files+=("${found[0]}")
done
# Older downloads of these packages are dropped; the unpacked prefix is redone only when a package changed.
for deb in "$debs"/*.deb; do
  [[ " ${files[*]} " == *" $deb "* ]] || rm -f "$deb"
done
wanted=$(printf '%s\n' "${files[@]##*/}")
if [[ ! -f $prefix/.debs || $(cat "$prefix/.debs") != "$wanted" ]]; then
  echo "cuda-compile: unpacking ${#files[@]} packages into $prefix"
  rm -rf "$prefix"
  mkdir -p "$prefix"
  for deb in "${files[@]}"; do dpkg-deb -x "$deb" "$prefix"; done
  echo "$wanted" >"$prefix/.debs"
fi

# node-addon-api is all the native build needs from npm.
npm ci --ignore-scripts --no-audit --no-fund >/dev/null
rm -f build/native-config.json
LIBTORCH=$prefix/usr node scripts/build-native.mjs

node -e '
  const c = JSON.parse(require("fs").readFileSync("build/native-config.json", "utf8"));
  const missing = [
    !c.cuda && "CUDA (no libtorch_cuda.so found)",
    !c.cudaHeaders && "the CUDA headers (c10/cuda)",
    !c.c10d.backends.includes("nccl") && "NCCL",
  ].filter(Boolean);
  if (missing.length > 0) {
    console.error(`cuda-compile: the build switched off ${missing.join(", ")}: ${c.c10d.summary}`);
    process.exit(1);
  }
  console.log(`cuda-compile: built against libtorch ${c.torchVersion} with CUDA, its headers and NCCL (${c.c10d.summary})`);
'
