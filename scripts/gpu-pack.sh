#!/usr/bin/env bash
# Prepares, on a machine with Node.js, what scripts/gpu-check.sh needs on a GPU machine that has
# PyTorch but no Node.js and no internet. Everything goes to .gpu/ (git-ignored), xz-compressed,
# to be carried with the working tree (with dist/, the compiled TypeScript):
#   .gpu/node.tar.xz     this machine's node binary (official builds need glibc >= 2.28) and the
#                        four N-API headers the addons compile against
#   .gpu/runtime.tar.xz  the production node_modules (node-addon-api, yaml, sharp with its libvips)
#                        and TurboJPEG's header and library for the image addon
# Usage: bash scripts/gpu-pack.sh   (after npm install and npx tsc -p tsconfig.json)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
node_bin=$(command -v node)
node_include=${NODE_INCLUDE_DIR:-$(dirname "$node_bin")/../include/node}
turbo_lib=$(ls /usr/lib/*-linux-gnu/libturbojpeg.so.0.* /usr/lib/libturbojpeg.so.0.* 2>/dev/null | head -1 || true)
[[ -f "$node_include/node_api.h" ]] || { echo "gpu-pack: no node_api.h in $node_include; set NODE_INCLUDE_DIR" >&2; exit 1; }
[[ -n "$turbo_lib" && -f /usr/include/turbojpeg.h ]] || { echo "gpu-pack: TurboJPEG not found: apt-get install libturbojpeg0-dev" >&2; exit 1; }
[[ -f dist/src/index.js ]] || { echo "gpu-pack: dist/ is missing: run npx tsc -p tsconfig.json first" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/node/bin" "$stage/node/include/node" .gpu
cp "$node_bin" "$stage/node/bin/node"
for h in node_api.h node_api_types.h js_native_api.h js_native_api_types.h; do
  cp "$node_include/$h" "$stage/node/include/node/"
done
tar -C "$stage" -cf - node | xz -T0 -9 > .gpu/node.tar.xz

mkdir -p "$stage/runtime/turbojpeg/include" "$stage/runtime/turbojpeg/lib"
cp /usr/include/turbojpeg.h "$stage/runtime/turbojpeg/include/"
cp "$turbo_lib" "$stage/runtime/turbojpeg/lib/"
ln -s "$(basename "$turbo_lib")" "$stage/runtime/turbojpeg/lib/libturbojpeg.so.0"
ln -s libturbojpeg.so.0 "$stage/runtime/turbojpeg/lib/libturbojpeg.so"
# The production dependencies only (no TypeScript, ESLint, Prettier): dist/ travels compiled.
npm ls --omit=dev --parseable --all | tail -n +2 | sed "s|^$root/||" > "$stage/modules.txt"
tar -cf - -T "$stage/modules.txt" | tar -C "$stage/runtime" -xf -
tar -C "$stage" -cf - runtime | xz -T0 -9 > .gpu/runtime.tar.xz
echo "gpu-pack: $(du -h .gpu/node.tar.xz | cut -f1) node, $(du -h .gpu/runtime.tar.xz | cut -f1) runtime, dist $(du -sh dist | cut -f1)"
echo "carry: [\".gpu\", \"dist\"]; then on the GPU machine: bash scripts/gpu-check.sh"
