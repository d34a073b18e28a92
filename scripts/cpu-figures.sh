#!/usr/bin/env bash
# The CPU figures of docs/benchmark-cpu.md and docs/benchmark-kmeans.md, taken on one machine in one
# command, into ONE report: the machine, the demo's time and table, the suite's time, the tiny-op
# overhead, bfloat16 against float32 (products, training step, extraction), and k-means against FAISS
# on synthetic and on real 2048-d ResNet-50 features. Made for the machines the figures still lack
# (an Intel Xeon of the Sapphire Rapids class, with AMX): run it there, quiet, and paste the report's
# tables into the docs, naming the machine.
#
#   bash scripts/cpu-figures.sh                 every step (about an hour on 2 cores, most of it the
#                                               real features: a RotNet ResNet-50 trained for 4 epochs)
#   bash scripts/cpu-figures.sh --quick         every step at toy sizes (a dry run of the plumbing; its
#                                               figures mean nothing)
#   bash scripts/cpu-figures.sh --skip suite,demo   leave steps out: machine is always run; the others
#                                               are demo, suite, ops, bf16, kmeans, features
#   bash scripts/cpu-figures.sh --features F.npy    real features from a file (N x 2048 .npy) instead
#                                               of training the ResNet-50 here
#
# Needs the project set up and built (bash scripts/setup.sh) and ../shared/data (or
# CLUSTERFIT_SHARED_DATA) for the Imagenette images. The report goes to $OUT/cpu-figures.md ($OUT, else
# out/cpu-figures/), each step's whole output beside it. The trained network and its features are kept
# in CLUSTERFIT_FIGURES_CACHE (default ~/.cache/clusterfit-cpu-figures), so a rerun goes straight to the
# benchmarks. Every step has its own time limit: a slow or failing one still leaves a report.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

quick=false
skip=","
features=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=true ;;
    --skip) skip=",$2," && shift ;;
    --skip=*) skip=",${1#--skip=}," ;;
    --features) features=$2 && shift ;;
    --features=*) features=${1#--features=} ;;
    *) echo "cpu-figures.sh: unknown argument $1 (see the comment at the top of $0)" >&2 && exit 2 ;;
  esac
  shift
done
[[ -z "$features" || -f "$features" ]] || { echo "cpu-figures.sh: no features file $features" >&2; exit 2; }
[[ -f dist/src/cli/main.js ]] || { echo "cpu-figures.sh: not built: run bash scripts/setup.sh (or npm run build)" >&2; exit 2; }

out=${OUT:-$root/out/cpu-figures}
mkdir -p "$out"
report="$out/cpu-figures.md"
cache=${CLUSTERFIT_FIGURES_CACHE:-$HOME/.cache/clusterfit-cpu-figures}
$quick && cache="$cache/quick"
shared=${CLUSTERFIT_SHARED_DATA:-$root/../shared/data}
work=$(mktemp -d /tmp/cf-cpu-figures.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$cache"
started=$(date +%s)
: > "$report"
cli() { node dist/src/cli/main.js "$@"; }

STEP_TAIL=150
# shellcheck source=report-steps.sh
. "$root/scripts/report-steps.sh"
wanted() { [[ "$skip" != *",$1,"* ]]; }

# The machine: what every figure below must name.
machine() {
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores for this process, $(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s) per core"
  echo "vector and matrix units: $(grep -o -w -E 'avx2|avx512f|avx512_bf16|avx512_vnni|amx_tile|amx_bf16|amx_int8' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "caches: $(lscpu | grep -E '^(L2|L3)' | tr -s ' ' | tr '\n' ';')"
  echo "memory: $(free -g | awk '/^Mem:/ {print $2 " GiB, " $7 " GiB available"}')"
  echo "kernel: $(uname -r); $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "node $(node --version); $(node scripts/stacks/built-with.mjs)"
  echo "commit: $(git rev-parse --short HEAD 2> /dev/null)$(git diff --quiet 2> /dev/null || echo ' (with uncommitted changes)')"
  echo "busiest processes now (a quiet machine shows only this script):"
  ps -eo pcpu,etimes,comm --sort=-pcpu | head -6
}

# The recipe of docs/benchmark-kmeans.md: a RotNet ResNet-50 trained on Imagenette at 64 px (4 epochs),
# its `flatten` features of the train and val images in four random views (SEED_VALUE 1-4), stacked.
real_features() {
  local per_class="" epochs=4 seeds="1 2 3 4"
  $quick && per_class=12 && epochs=1 && seeds="1"
  for split in train val; do
    if [[ ! -d "$cache/imagenette64/$split" ]]; then
      local archive="$shared/imagenette2_224/imagenette2_224_$split.tar.gz"
      [[ -f "$archive" ]] || { echo "no $archive: set CLUSTERFIT_SHARED_DATA, or pass --features"; return 1; }
      mkdir -p "$work/imagenette224"
      tar -xzf "$archive" -C "$work/imagenette224" || return 1
      node scripts/experiments/resize-image-folder.mjs "$work/imagenette224/$split" "$cache/imagenette64/$split" 64 $per_class || return 1
    fi
  done
  if [[ ! -f "$cache/r50-rotnet/checkpoint.torch" ]]; then
    echo "training the RotNet ResNet-50 ($epochs epochs)"
    cli run config=bench/cluster/imagenette-resnet50-rotnet.yaml "config.DATA.TRAIN.DATA_PATHS=[$cache/imagenette64/train]" \
      "config.CHECKPOINT.DIR=$cache/r50-rotnet" "config.OPTIMIZER.num_epochs=$epochs" > "$work/train.log" 2>&1
    tail -n 8 "$work/train.log"
    [[ -f "$cache/r50-rotnet/checkpoint.torch" ]] || { echo "the training left no checkpoint.torch"; return 1; }
  fi
  for seed in $seeds; do
    [[ -d "$cache/features-$seed" ]] && continue
    echo "extracting view $seed"
    cli run config=bench/cluster/imagenette-resnet50-features.yaml "config.SEED_VALUE=$seed" \
      "config.DATA.TRAIN.DATA_PATHS=[$cache/imagenette64/train]" "config.DATA.TEST.DATA_PATHS=[$cache/imagenette64/val]" \
      "config.MODEL.WEIGHTS_INIT.PARAMS_FILE=$cache/r50-rotnet/checkpoint.torch" \
      "config.EXTRACT_FEATURES.OUTPUT_DIR=$work/features-$seed" > "$work/extract-$seed.log" 2>&1 ||
      { tail -5 "$work/extract-$seed.log"; return 1; }
    mv "$work/features-$seed" "$cache/features-$seed"
  done
  "${CLUSTERFIT_PYTHON:-/usr/bin/python3}" - "$cache" $seeds << 'PY'
import glob, sys
import numpy as np
cache, seeds = sys.argv[1], sys.argv[2:]
parts = [np.load(f).astype(np.float32) for s in seeds for f in sorted(glob.glob(f'{cache}/features-{s}/*_flatten_features.npy'))]
x = np.concatenate(parts)
print(f'stacked {x.shape[0]} x {x.shape[1]} features, {100 * (x == 0).mean():.1f}% zeros')
np.save(f'{cache}/feats.npy', x)
PY
}
export -f cli machine real_features
export quick cache shared work

say "# clusterfit CPU figures$($quick && echo ' (--quick: toy sizes, the figures mean nothing)'), $(date -u +%Y-%m-%dT%H:%M:%SZ)"

step "Machine" 30 machine

# --- Item 1: the demo, from the tree as a user runs it -------------------------------------------
if wanted demo; then
  # Seed 1 is the README's run; seed 2 shows the spread of the table (both are in the README).
  for seed in 1 2; do
    demo_args=(demo "out=$work/demo-$seed" "config.SEED_VALUE=$seed")
    $quick && demo_args+=(config.OPTIMIZER.num_epochs=1)
    step "Demo (npm run demo, seed $seed): its table and where the time went" 1200 cli "${demo_args[@]}"
    $quick && break
  done
fi

# --- Item 2: the test suite, as npm test runs it -------------------------------------------------
if wanted suite; then
  if $quick; then
    step "Test suite (--quick: one file)" 300 node scripts/run-tests.mjs dist/test/cluster/kmeans.test.js
  else
    step "Test suite (npm test: build, lint, every test)" 1800 npm test
  fi
fi

# --- Item 4: tiny-op overhead against PyTorch ---------------------------------------------------
if wanted ops; then
  step "Tiny ops against PyTorch (median ratio > 1: ours faster)" 600 \
    node dist/bench/torch/ops.js --only tiny --rounds "$($quick && echo 3 || echo 15)"
fi

# --- Item 3: bfloat16 against float32 -----------------------------------------------------------
if wanted bf16; then
  if $quick; then
    step "bfloat16 vs float32 products (oneDNN verbose lines name the kernels: amx or avx512_core_bf16)" 600 \
      node dist/bench/torch/matmul-precision.js --d 256 --k 1000 --rounds 1 --reps 1
    step "Training step, float32 and bfloat16 autocast" 600 \
      node dist/bench/models/train-step.js --depth 18 --amp off,on --rounds 1 --steps 1 --warmup 1
    step "ResNet-50 extraction, float32 and bfloat16 autocast" 600 \
      node dist/bench/tasks/extract.js --amp off,on --images 32 --rounds 1
  else
    step "bfloat16 vs float32 products (oneDNN verbose lines name the kernels: amx or avx512_core_bf16)" 1200 \
      node dist/bench/torch/matmul-precision.js --rounds 5 --reps 2
    step "Training step, float32 and bfloat16 autocast" 1500 \
      node dist/bench/models/train-step.js --depth 18,50 --amp off,on --rounds 7
    step "ResNet-50 extraction, float32 and bfloat16 autocast" 1200 \
      node dist/bench/tasks/extract.js --amp off,on --images 256 --rounds 3
  fi
fi

# --- Item 3: k-means against FAISS on synthetic mixtures (the issue's two shapes) -----------------
if wanted kmeans; then
  if $quick; then
    step "k-means vs FAISS, synthetic" 600 node dist/bench/cluster/kmeans.js --sizes 20000x256x100 \
      --niter 5 --threads 2 --pruning on --precision float32,bfloat16
  else
    step "k-means vs FAISS, synthetic (100k x 256 and 50k x 2048, K 1000)" 2400 node dist/bench/cluster/kmeans.js \
      --sizes 100000x256x1000,50000x2048x1000 --niter 20 --threads 2 --pruning on --precision float32,bfloat16
  fi
fi

# --- Item 3: k-means on real 2048-d ResNet-50 features ------------------------------------------
if wanted features; then
  if [[ -z "$features" ]]; then
    if [[ -f "$cache/feats.npy" ]]; then
      say ""
      say "(real features from the cache: $cache/feats.npy)"
    else
      step "Real features: RotNet ResNet-50 on Imagenette 64 px, flatten of 4 views (docs/benchmark-kmeans.md)" 5400 real_features
    fi
    features="$cache/feats.npy"
  fi
  if [[ -f "$features" ]]; then
    if $quick; then
      step "k-means vs FAISS, real features" 600 node dist/bench/cluster/kmeans.js --features "$features" \
        --k 10 --niter 5 --threads 2 --pruning on --precision float32,bfloat16
    else
      step "k-means vs FAISS, real 2048-d features (K 100, 1000, 4000)" 3600 node dist/bench/cluster/kmeans.js \
        --features "$features" --k 100,1000,4000 --niter 20 --threads 2 --pruning on --precision float32,bfloat16
    fi
  fi
fi

say ""
say "whole run: $(($(date +%s) - started))s; report $report"
