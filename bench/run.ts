// `npm run bench`: every benchmark in turn with its defaults, each side by side with its PyTorch,
// torchvision, FAISS or scikit-learn peer. Each prints its own figures and ratios; run one alone to pass options.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCHMARKS = [
  ['torch/ops.js', 'tensor engine: tiny-op overhead and conv/bn/relu block'],
  ['torch/matmul-precision.js', 'float32 vs bfloat16 matmul at k-means shapes, with oneDNN verbose output'],
  ['models/train-step.js', 'ResNet-18/50 training step'],
  ['data/loader.js', 'image loader vs torchvision DataLoader'],
  ['cluster/kmeans.js', 'k-means vs FAISS'],
  ['tasks/extract.js', 'ResNet-50 feature extraction vs PyTorch'],
  ['eval/svm.js', "VISSL's VOC07 SVM protocol vs scikit-learn"],
  ['distributed/allreduce.js', 'Gloo all-reduce bandwidth vs torch.distributed'],
  ['distributed/ddp-step.js', '2-process DDP ResNet-18 train step vs PyTorch DDP'],
];

const here = dirname(fileURLToPath(import.meta.url));
let failed = 0;
for (const [script, what] of BENCHMARKS) {
  console.log(`\n=== ${what} (${script}) ===`);
  const run = spawnSync(process.execPath, [join(here, script as string)], { stdio: 'inherit' });
  if (run.status !== 0) failed += 1;
}
process.exitCode = failed > 0 ? 1 : 0;
