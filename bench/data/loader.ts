// Benchmark: images per second for decode + RandomResizedCrop 224 + horizontal flip + collation into
// one uint8 NCHW tensor, our loader against torchvision's DataLoader with PIL (bench/peers/
// torchvision_loader.py) with the same number of workers, on Imagenette's JPEGs. Both keep their
// workers across epochs; after one warm-up epoch each (worker start-up, cold page cache), epochs
// alternate between the two so that load from other processes hits both alike; the medians and
// their ratio are reported. CPU milliseconds per image (all threads and worker processes of each
// side) are reported too: steadier than images per second when other processes share the machine.
//
//   flock /tmp/clusterfit-bench.lock node dist/bench/data/loader.js [--root DIR] [--workers N] [--images N] [--batch N] [--rounds N]
//     [--full] [--device cuda]
// --full adds ColorJitter, ToTensor and Normalize (ours run them batched on --device, torchvision in
// its workers); --device delivers the batches there (pinned memory, non-blocking copies, both sides).
//
// DIR defaults to <os tmpdir>/imagenette/train, extracted from the shared data folder's
// imagenette2_224/imagenette2_224_train.tar.gz (test/support/shared-data.ts) if it is not there yet.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { DataLoader } from '../../src/data/loader.js';
import { imageFolder } from '../../src/data/datasets.js';
import { cuda } from '../../src/torch/index.js';
import { sharedData } from '../../test/support/shared-data.js';
import { median, startPeer } from '../support.js';

const ARCHIVE = sharedData('imagenette2_224', 'imagenette2_224_train.tar.gz');
const { values } = parseArgs({
  options: {
    root: { type: 'string', default: join(tmpdir(), 'imagenette', 'train') },
    workers: { type: 'string', default: String(availableParallelism()) },
    images: { type: 'string', default: '4000' },
    batch: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '3' },
    // The whole training pipeline: + ColorJitter 0.4 + ToTensor + Normalize (ours: on the device).
    full: { type: 'boolean', default: false },
    device: { type: 'string', default: 'cpu' },
  },
});
const device = values.device!;
const full = values.full!;
const GEOMETRIC = [{ name: 'RandomResizedCrop', size: 224 }, { name: 'RandomHorizontalFlip' }];
const PHOTOMETRIC = [
  { name: 'ColorJitter', brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 },
  { name: 'ToTensor' },
  { name: 'Normalize', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
];
const [workers, images, batch, rounds] = [values.workers, values.images, values.batch, values.rounds].map(Number) as [
  number,
  number,
  number,
  number,
];

function ensureData(root: string): void {
  if (existsSync(root)) return;
  if (!existsSync(ARCHIVE)) {
    console.error(`benchmark data missing: neither ${root} nor ${ARCHIVE} exists; pass --root <ImageFolder of JPEGs>`);
    process.exit(2);
  }
  console.log(`extracting ${ARCHIVE} into ${dirname(root)} ...`);
  mkdirSync(dirname(root), { recursive: true });
  const tar = spawnSync('tar', ['xzf', ARCHIVE, '-C', dirname(root)], { stdio: 'inherit' });
  if (tar.status !== 0) process.exit(2);
}

/** One epoch of our loader per call; the worker threads persist, as the peer's do. */
interface Epoch {
  /** Images per second. */
  rate: number;
  /** CPU milliseconds per image, all threads and processes of the loader. */
  cpu: number;
}

function ours(root: string): { epoch: () => Promise<Epoch>; close: () => Promise<void> } {
  const dataset = imageFolder(root);
  const loader = new DataLoader({
    dataset: { samples: dataset.samples.slice(0, images) },
    transforms: full ? [...GEOMETRIC, ...PHOTOMETRIC] : GEOMETRIC,
    batchSize: batch,
    numWorkers: workers,
    seed: 0,
    device,
    pinMemory: true,
    nonBlocking: true,
  });
  let epoch = 0;
  return {
    async epoch() {
      const start = performance.now();
      const cpu = process.cpuUsage(); // the whole process: main thread, worker threads, libuv's threads
      let count = 0;
      for await (const b of loader.epoch(epoch++)) {
        count += b.images.shape[0] as number;
        b.dispose();
      }
      if (device.startsWith('cuda')) cuda.synchronize();
      const used = process.cpuUsage(cpu);
      return {
        rate: count / ((performance.now() - start) / 1000),
        cpu: (used.user + used.system) / 1000 / count,
      };
    },
    close: () => loader.close(),
  };
}

/** The torchvision peer as a persistent process that runs one epoch per request. */
function torchvision(root: string): { epoch: () => Promise<Epoch>; close: () => void } {
  const peer = startPeer('torchvision_loader.py', [
    '--root',
    root,
    '--workers',
    String(workers),
    '--images',
    String(images),
    '--batch',
    String(batch),
    '--device',
    device,
    ...(full ? ['--full'] : []),
  ]);
  return {
    async epoch() {
      const epoch = (await peer.reply('epoch')) as { images_per_s: number; cpu_s: number; images: number };
      return { rate: epoch.images_per_s, cpu: (epoch.cpu_s * 1000) / epoch.images };
    },
    close: peer.close,
  };
}

ensureData(values.root);
console.log(
  `decode + RandomResizedCrop 224 + flip + ${full ? 'ColorJitter + ToTensor + Normalize' : 'uint8 collate'} to ${device}; ` +
    `${images} images, batch ${batch}, ${workers} workers; ` +
    `one warm-up epoch each, then ${rounds} alternating rounds`,
);
const mine = ours(values.root);
const theirs = torchvision(values.root);
await mine.epoch();
await theirs.epoch();
const results: { ours: Epoch; theirs: Epoch }[] = [];
for (let round = 0; round < rounds; round++) {
  const r = { ours: await mine.epoch(), theirs: await theirs.epoch() };
  results.push(r);
  console.log(
    `round ${round + 1}: clusterfit ${r.ours.rate.toFixed(0)} images/s (${r.ours.cpu.toFixed(2)} ms CPU/image), ` +
      `torchvision ${r.theirs.rate.toFixed(0)} images/s (${r.theirs.cpu.toFixed(2)} ms CPU/image), ` +
      `ratio ${(r.ours.rate / r.theirs.rate).toFixed(2)}x`,
  );
}
await mine.close();
theirs.close();
const of = (side: 'ours' | 'theirs', key: keyof Epoch): number => median(results.map((r) => r[side][key]));
const [m, t] = [of('ours', 'rate'), of('theirs', 'rate')];
const [mc, tc] = [of('ours', 'cpu'), of('theirs', 'cpu')];
console.log(
  `clusterfit (TurboJPEG decode, native resampling, ${workers} worker threads): ${m.toFixed(0)} images/s, ${mc.toFixed(2)} ms CPU/image (medians)`,
);
console.log(
  `torchvision DataLoader (PIL, ${workers} worker processes):                   ${t.toFixed(0)} images/s, ${tc.toFixed(2)} ms CPU/image (medians)`,
);
console.log(
  `ratio: ${(m / t).toFixed(2)}x images/s (median of rounds ${median(results.map((r) => r.ours.rate / r.theirs.rate)).toFixed(2)}x); ` +
    `CPU per image: torchvision / clusterfit = ${(tc / mc).toFixed(2)}x`,
);
