// Benchmark: feature extraction, images per second, ours against PyTorch on the same images and
// machine: ResNet-50 `res5` features (layer4, 7x7 average pool, 2048-d) of Imagenette JPEGs with
// Resize 256 + CenterCrop 224 + Normalize, the shipped VISSL clustering config's extraction. Ours
// runs the product path (extractTask, writing .npy shards); the peer is torchvision's resnet50 fed
// by torchvision's DataLoader with PIL (bench/peers/torch_extract.py). Same workers, same threads,
// random weights on both sides (speed does not depend on them); rounds alternate.
//
// --amp on extracts under autocast on both sides (ours: MODEL.AMP_PARAMS.USE_AMP_FOR_INFERENCE;
// PyTorch: torch.autocast per batch): bfloat16 on CPU, float16 on CUDA. --amp off,on runs both in
// one invocation, alternating within each round, and prints each side's AMP / float32 speed.
//
//   node dist/bench/tasks/extract.js [--root DIR] [--images N] [--workers N] [--threads N] [--rounds N]
//     [--device cuda] [--channels-last] [--amp off|on|off,on]
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
import { ampVariants as parseAmp, median } from '../support.js';

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
    amp: { type: 'string', default: 'off' },
  },
});
const device = values.device!;
const channelsLast = values['channels-last']!;
const ampVariants = parseAmp(values.amp!);
const ampName = device.startsWith('cuda') ? 'AMP float16' : 'AMP bfloat16';
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

async function ours(filelist: string, amp: boolean): Promise<number> {
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
      `config.MODEL.AMP_PARAMS.USE_AMP_FOR_INFERENCE=${amp ? 'True' : 'False'}`,
      "config.MODEL.WEIGHTS_INIT.PARAMS_FILE=''",
      `config.CHECKPOINT.DIR=${JSON.stringify(out)}`,
    ],
  });
  const logger = new RunLogger({ quiet: true, jsonToStdout: false });
  const start = performance.now();
  const result = await extractTask(cfg, { logger, layers: ['res5'], partitions: ['TRAIN'] });
  return (result.images.train ?? 0) / ((performance.now() - start) / 1000);
}

function pytorch(filelist: string, amp: boolean): number {
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
      ...(amp ? ['--amp'] : []),
    ],
    { encoding: 'utf8' },
  );
  if (run.status !== 0) throw new Error(`PyTorch peer failed: ${run.stderr}`);
  return (JSON.parse(run.stdout.trim().split('\n').pop() as string) as { images_per_sec: number }).images_per_sec;
}

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
// rates[side][variant][round]
const rates = { ours: ampVariants.map((): number[] => []), pytorch: ampVariants.map((): number[] => []) };
const label = (amp: boolean): string => (amp ? ampName : 'float32');
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? [...ampVariants.keys()] : [...ampVariants.keys()].reverse();
  for (const v of order) {
    const amp = ampVariants[v]!;
    rates.ours[v]!.push(await ours(filelist, amp));
    rates.pytorch[v]!.push(pytorch(filelist, amp));
    console.log(
      `round ${round + 1}, ${label(amp)}: ours ${rates.ours[v]!.at(-1)?.toFixed(2)} img/s, PyTorch ${rates.pytorch[v]!.at(-1)?.toFixed(2)} img/s`,
    );
  }
}
for (const [v, amp] of ampVariants.entries()) {
  const [o, p] = [median(rates.ours[v]!), median(rates.pytorch[v]!)];
  console.log(
    `ResNet-50 res5 extraction, ${label(amp)}, ${images} images, ${device}${channelsLast ? ' channels-last' : ''}, ${workers} workers, ${threads} threads, batch ${batch}: ` +
      `ours ${o.toFixed(2)} img/s, PyTorch ${p.toFixed(2)} img/s, ratio ${(o / p).toFixed(2)}x (median of ${rounds} rounds)`,
  );
}
const [off, on] = [ampVariants.indexOf(false), ampVariants.indexOf(true)];
if (off >= 0 && on >= 0) {
  const gain = (r: number[][]): string => median(r[on]!.map((x, i) => x / r[off]![i]!)).toFixed(2);
  console.log(
    `${ampName} / float32 speed: ours ${gain(rates.ours)}x, PyTorch ${gain(rates.pytorch)}x (median of rounds)`,
  );
}
