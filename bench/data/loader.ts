// Benchmark: images per second for decode + RandomResizedCrop 224 + horizontal flip + collation into
// one uint8 NCHW tensor, our loader against torchvision's DataLoader with PIL (bench/peers/
// torchvision_loader.py) with the same number of workers, on Imagenette's JPEGs. The last of
// `--epochs` epochs is reported for both (the first includes worker start-up and a cold page cache).
//
//   node dist/bench/data/loader.js [--root DIR] [--workers N] [--images N] [--batch N] [--epochs N]
//
// DIR defaults to /tmp/imagenette/train, extracted from
// /work/shared/data/imagenette2_224/imagenette2_224_train.tar.gz if it is not there yet.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DataLoader } from '../../src/data/loader.js';
import { imageFolder } from '../../src/data/datasets.js';

const ARCHIVE = '/work/shared/data/imagenette2_224/imagenette2_224_train.tar.gz';
const { values } = parseArgs({
  options: {
    root: { type: 'string', default: '/tmp/imagenette/train' },
    workers: { type: 'string', default: String(availableParallelism()) },
    images: { type: 'string', default: '4000' },
    batch: { type: 'string', default: '64' },
    epochs: { type: 'string', default: '2' },
  },
});
const [workers, images, batch, epochs] = [values.workers, values.images, values.batch, values.epochs].map(Number) as [
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

async function ours(root: string): Promise<number> {
  const dataset = imageFolder(root);
  const subset = { samples: dataset.samples.slice(0, images) };
  const loader = new DataLoader({
    dataset: subset,
    transforms: [{ name: 'RandomResizedCrop', size: 224 }, { name: 'RandomHorizontalFlip' }],
    batchSize: batch,
    numWorkers: workers,
    seed: 0,
  });
  let rate = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const start = performance.now();
    let count = 0;
    for await (const b of loader.epoch(epoch)) {
      count += b.images.shape[0] as number;
      b.dispose();
    }
    rate = count / ((performance.now() - start) / 1000);
  }
  await loader.close();
  return rate;
}

function torchvision(root: string): number {
  const script = join(dirname(fileURLToPath(import.meta.url)), '../../../bench/peers/torchvision_loader.py');
  const args = [
    script,
    '--root',
    root,
    '--workers',
    String(workers),
    '--images',
    String(images),
    '--batch',
    String(batch),
    '--epochs',
    String(epochs),
  ];
  const run = spawnSync('/usr/bin/python3', args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`torchvision peer failed:\n${run.stderr}`);
  return (JSON.parse(run.stdout.trim().split('\n').pop() as string) as { images_per_s: number }).images_per_s;
}

ensureData(values.root);
console.log(
  `decode + RandomResizedCrop 224 + flip + uint8 collate; ${images} images, batch ${batch}, ${workers} workers, last of ${epochs} epochs`,
);
const mine = await ours(values.root);
console.log(`clusterfit (sharp, worker threads): ${mine.toFixed(0)} images/s`);
const theirs = torchvision(values.root);
console.log(`torchvision DataLoader (PIL):       ${theirs.toFixed(0)} images/s`);
console.log(`ratio: ${(mine / theirs).toFixed(2)}x`);
