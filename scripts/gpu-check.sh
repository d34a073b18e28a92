#!/usr/bin/env bash
# The GPU check: on a machine with PyTorch (2.x, CUDA) and a GPU but no Node.js and no internet,
# builds the addons against that PyTorch, runs the CUDA test subset and the GPU benchmarks, each
# beside its PyTorch/torchvision peer on the same GPU, and writes ONE report file. Needs what
# scripts/gpu-pack.sh prepared (.gpu/, carried with dist/ and the working tree).
#
#   bash scripts/gpu-check.sh            on the GPU machine; the report goes to $OUT/gpu-report.md
#                                        ($OUT, else out/gpu-check/)
#   bash scripts/gpu-check.sh --cpu      the same steps here, on CPU at toy sizes (a dry run)
#
# Every step has its own time limit, so a slow or failing step still leaves a report; the whole
# run is sized for 8 minutes on an H100 with 16 cores.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=gpu
[[ "${1:-}" == "--cpu" ]] && mode=cpu
out=${OUT:-$root/out/gpu-check}
mkdir -p "$out"
report="$out/gpu-report.md"
work=$(mktemp -d /tmp/cf-gpu-check.XXXXXX)
started=$(date +%s)
: > "$report"

# shellcheck source=report-steps.sh
. "$root/scripts/report-steps.sh"

say "# clusterfit GPU check ($mode mode), $(date -u +%Y-%m-%dT%H:%M:%SZ)"

# --- Node.js, the production node_modules and TurboJPEG: carried, unpacked here -----------------
if ! command -v node > /dev/null || [[ ! -f node_modules/node-addon-api/napi.h ]] || [[ "$mode" == cpu ]]; then
  [[ -f .gpu/node.tar.xz && -f .gpu/runtime.tar.xz ]] || {
    say "missing .gpu/node.tar.xz or .gpu/runtime.tar.xz: run bash scripts/gpu-pack.sh on a machine with Node.js and carry .gpu and dist"
    exit 1
  }
  xz -dc .gpu/node.tar.xz | tar -C "$work" -xf -
  xz -dc .gpu/runtime.tar.xz | tar -C "$work" -xf -
  export PATH="$work/node/bin:$PATH"
  # A dry run keeps this machine's headers (the same ones), so the objects built here stay valid.
  if [[ "$mode" == cpu && -f /usr/include/node/node_api.h ]]; then
    export NODE_INCLUDE_DIR=/usr/include/node
  else
    export NODE_INCLUDE_DIR="$work/node/include/node"
  fi
  # The carried modules are used only where the tree has none (a dry run keeps the tree's own).
  [[ -d node_modules ]] || cp -r "$work/runtime/node_modules" node_modules
  if ! ldconfig -p 2> /dev/null | grep -q libturbojpeg.so.0; then export TURBOJPEG_HOME="$work/runtime/turbojpeg"; fi
fi
[[ -f dist/src/index.js ]] || { say "dist/ is missing: carry it (npx tsc -p tsconfig.json where TypeScript is)"; exit 1; }
# The Python with torch, torchvision and PIL: $CLUSTERFIT_PYTHON, else python3 on PATH, else Debian's.
python=""
for candidate in "${CLUSTERFIT_PYTHON:-}" "$(command -v python3 || true)" /usr/bin/python3; do
  if [[ -n "$candidate" ]] && "$candidate" -c 'import torch, torchvision, PIL' 2> /dev/null; then
    python=$candidate
    break
  fi
done
[[ -n "$python" ]] || { say "no Python with torch, torchvision and PIL found: set CLUSTERFIT_PYTHON"; exit 1; }
export CLUSTERFIT_PYTHON=$python
say ""
say "node $(node --version) ($(command -v node)); python $python"
if [[ "$mode" == gpu ]]; then
  say "$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -2)"
  say "$("$python" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version())' 2>&1)"
  export LIBTORCH_USE_PYTORCH=1
  device=cuda
  threads=$(nproc)
else
  device=cpu
  threads=2
fi
say "cores: $(nproc)"

# --- Build ---------------------------------------------------------------------------------------
# c10d's API changed most between versions (distributed_compat.h): if the full build fails, the
# addon is built again without it, so the single-GPU checks still run (the report says so).
if ! step "Build: native addon against this machine's libtorch" 240 node scripts/build-native.mjs; then
  say "the full build failed (first errors in $out/step-$steps.log); building again without c10d"
  step "Build: native addon without distributed (CLUSTERFIT_DISTRIBUTED=0)" 240 \
    env CLUSTERFIT_DISTRIBUTED=0 node scripts/build-native.mjs || { say "build failed: nothing else can run"; exit 1; }
fi
step "Build: image addon (TurboJPEG)" 90 node scripts/build-image.mjs

# --- Tests ---------------------------------------------------------------------------------------
export CLUSTERFIT_TEST_DEVICE=$device
step "Tests: CUDA subset (tensor ops parity, AMP, CUDA paths)" 150 \
  node --test --expose-gc --test-concurrency=1 --test-reporter=dot \
  dist/test/gpu/cuda.test.js dist/test/torch/ops-parity.test.js dist/test/torch/amp/amp.test.js dist/test/cluster/fast-assign.test.js
step "Tests: c10d on CUDA (NCCL at world size 1, 2 Gloo ranks over CUDA tensors, DDP)" 150 \
  node --test --expose-gc --test-reporter=spec dist/test/gpu/distributed.test.js

# --- Benchmark images, made here with PIL (the shared data does not travel) ------------------------
images=$work/images
if [[ "$mode" == gpu ]]; then n_images=3200; else n_images=64; fi
step "Benchmark images: $n_images JPEGs 500x375 in 10 classes (PIL)" 90 "$python" - "$images" "$n_images" << 'PY'
import sys, os, numpy as np
from PIL import Image
root, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:375, 0:500]
for i in range(n):
    d = os.path.join(root, f"class{i % 10}")
    os.makedirs(d, exist_ok=True)
    # Smooth colour fields plus noise: JPEG sizes like photos' (pure noise would be far larger).
    a, b, c = rng.uniform(0.005, 0.05, 3)
    img = np.stack([np.sin(xx * a + i), np.cos(yy * b), np.sin((xx + yy) * c)], -1) * 100 + 128
    img += rng.normal(0, 12, img.shape)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(os.path.join(d, f"{i:05d}.jpg"), quality=90)
print(f"{n} images in {root}")
PY

# --- Benchmarks ----------------------------------------------------------------------------------
if [[ "$mode" == gpu ]]; then
  step "ResNet-50 train step, channels-last, float32 and AMP float16 alternating, batch 256 at 224, vs PyTorch eager" 120 \
    node dist/bench/models/train-step.js --device cuda --depth 50 --batch 256 --size 224 --channels-last --amp off,on \
    --threads "$threads" --rounds 3 --steps 5 --warmup 3 \
    || step "ResNet-50 train step, batch 128 (256 did not fit)" 100 \
      node dist/bench/models/train-step.js --device cuda --depth 50 --batch 128 --size 224 --channels-last --amp off,on \
      --threads "$threads" --rounds 3 --steps 5 --warmup 3
  step "ResNet-50 res5 feature extraction at 224, vs PyTorch" 120 \
    node dist/bench/tasks/extract.js --device cuda --channels-last --root "$images" --images 3200 \
    --workers 16 --threads "$threads" --batch 256 --rounds 2
  step "Input pipeline (decode + RandomResizedCrop + flip + ColorJitter + normalise, 224) vs torchvision DataLoader" 120 \
    node dist/bench/data/loader.js --full --device cuda --root "$images" --images 3200 --workers 16 --batch 256 --rounds 2
  step "k-means, IN1K shape (1,281,167 x 2048 -> 16,000), 50 iterations, TF32 distances" 150 \
    node dist/bench/cluster/kmeans.js --device cuda --sizes 1281167x2048x16000 --niter 50 --no-peer --precision tf32
  step "k-means, IN1K shape, 5 iterations: float32 vs TF32 vs bfloat16 objectives, and plain PyTorch" 150 \
    node dist/bench/cluster/kmeans.js --device cuda --sizes 1281167x2048x16000 --niter 5 --no-peer --pruning off \
    --precision float32,tf32,bfloat16 --torch-peer
else
  step "ResNet-18 train step (dry run)" 120 \
    node dist/bench/models/train-step.js --depth 18 --batch 2 --size 64 --rounds 1 --steps 1 --warmup 1 --amp off,on
  step "ResNet-50 res5 feature extraction (dry run)" 180 \
    node dist/bench/tasks/extract.js --root "$images" --images 16 --workers 2 --threads 2 --batch 8 --rounds 1
  step "Input pipeline with photometric transforms (dry run)" 120 \
    node dist/bench/data/loader.js --full --root "$images" --images 64 --workers 2 --batch 16 --rounds 1
  step "k-means precisions and plain PyTorch (dry run)" 120 \
    node dist/bench/cluster/kmeans.js --sizes 20000x128x200 --niter 3 --no-peer --pruning off \
    --precision float32,tf32,bfloat16 --torch-peer
fi

say ""
say "total $(($(date +%s) - started))s"
rm -rf "$work"
echo "report: $report"
