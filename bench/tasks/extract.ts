// Benchmark: feature extraction, images per second, ours against PyTorch on the same images and
// machine: ResNet-50 `res5` features (layer4, 7x7 average pool, 2048-d) of Imagenette JPEGs with
// Resize 256 + CenterCrop 224 + Normalize, the shipped VISSL clustering config's extraction. Ours
// runs the product path (extractTask, writing .npy shards); the peer is torchvision's resnet50 fed
// by torchvision's DataLoader with PIL (bench/peers/torch_extract.py). Same workers, same threads,
// random weights on both sides (speed does not depend on them); rounds alternate.
//
//   node dist/bench/tasks/extract.js [--root DIR] [--images N] [--workers N] [--threads N] [--rounds N]
//     [--device cuda] [--channels-last]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config/index.js';
import { imageFolder } from '../../src/data/index.js';
import { RunLogger } from '../../src/engine/run-logger.js';
import { extractTask } from '../../src/tasks/index.js';
import { setNumThreads } from '../../src/torch/index.js';
import { writeNpy } from '../../src/torch/io/index.js';
import { sharedData } from '../../test/support/shared-data.js';

const ARCHIVE = sharedData('imagenette2_224', 'imagenette2_224_val.tar.gz');
const PYTHON = process.env.CLUSTERFIT_PYTHON ?? '/usr/bin/python3';
const { values } = parseArgs({
  options: {
    root: { type: 'string', default: join(tmpdir(), 'imagenette', 'val') },
    images: { type: 'string', default: '96' },
    workers: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    batch: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '2' },
    device: { type: 'string', default: 'cpu' },
    'channels-last': { type: 'boolean', default: false },
  },
});
const device = values.device!;
const channelsLast = values['channels-last']!;
const [images, workers, threads, batch, rounds] = [
  values.images,
  values.workers,
  values.threads,
  values.batch,
  values.rounds,
].map(Number) as [number, number, number, number, number];

function ensureData(root: string): void {
  if (existsSync(root)) return;
  if (!existsSync(ARCHIVE)) {
    console.error(`benchmark data missing: neither ${root} nor ${ARCHIVE} exists; pass --root <ImageFolder of JPEGs>`);
    process.exit(2);
  }
  mkdirSync(dirname(root), { recursive: true });
  if (spawnSync('tar', ['xzf', ARCHIVE, '-C', dirname(root)], { stdio: 'inherit' }).status !== 0) process.exit(2);
}

async function ours(filelist: string): Promise<number> {
  const out = mkdtempSync(join(tmpdir(), 'bench-extract-'));
  const cfg = loadConfig({
    config: 'pretrain/clusterfit/cluster_features_resnet_8gpu_imagenet',
    overrides: [
      `config.DATA.TRAIN.DATA_SOURCES=[disk_filelist]`,
      `config.DATA.TRAIN.DATA_PATHS=[${JSON.stringify(filelist)}]`,
      `config.DATA.TRAIN.BATCHSIZE_PER_REPLICA=${batch}`,
      `config.DATA.NUM_DATALOADER_WORKERS=${workers}`,
      'config.DISTRIBUTED.NUM_PROC_PER_NODE=1',
      `config.MACHINE.DEVICE=${device.startsWith('cuda') ? 'gpu' : 'cpu'}`,
      `config.MODEL.CHANNELS_LAST=${channelsLast ? 'True' : 'False'}`,
      "config.MODEL.WEIGHTS_INIT.PARAMS_FILE=''",
      `config.CHECKPOINT.DIR=${JSON.stringify(out)}`,
    ],
  });
  const logger = new RunLogger({ quiet: true, jsonToStdout: false });
  const start = performance.now();
  const result = await extractTask(cfg, { logger, layers: ['res5'], partitions: ['TRAIN'] });
  return (result.images.train ?? 0) / ((performance.now() - start) / 1000);
}

function pytorch(filelist: string): number {
  const script = join(dirname(fileURLToPath(import.meta.url)), '../../../bench/peers/torch_extract.py');
  const run = spawnSync(
    PYTHON,
    [
      script,
      '--filelist',
      filelist,
      '--workers',
      String(workers),
      '--threads',
      String(threads),
      '--batch',
      String(batch),
      '--device',
      device,
      ...(channelsLast ? ['--channels-last'] : []),
    ],
    { encoding: 'utf8' },
  );
  if (run.status !== 0) throw new Error(`PyTorch peer failed: ${run.stderr}`);
  return (JSON.parse(run.stdout.trim().split('\n').pop() as string) as { images_per_sec: number }).images_per_sec;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

ensureData(values.root as string);
setNumThreads(threads);
const filelist = join(mkdtempSync(join(tmpdir(), 'bench-extract-')), 'images.npy');
writeNpy(
  filelist,
  imageFolder(values.root as string)
    .samples.filter((_, i) => i % 7 === 0)
    .slice(0, images)
    .map((s) => s.path),
);
const rates = { ours: [] as number[], pytorch: [] as number[] };
for (let round = 0; round < rounds; round++) {
  rates.ours.push(await ours(filelist));
  rates.pytorch.push(pytorch(filelist));
  console.log(
    `round ${round + 1}: ours ${rates.ours.at(-1)?.toFixed(2)} img/s, PyTorch ${rates.pytorch.at(-1)?.toFixed(2)} img/s`,
  );
}
const [o, p] = [median(rates.ours), median(rates.pytorch)];
console.log(
  `ResNet-50 res5 extraction, ${images} images, ${device}${channelsLast ? ' channels-last' : ''}, ${workers} workers, ${threads} threads, batch ${batch}: ` +
    `ours ${o.toFixed(2)} img/s, PyTorch ${p.toFixed(2)} img/s, ratio ${(o / p).toFixed(2)}x (median of ${rounds} rounds)`,
);
