// A process that loads a folder of images through the data loader in two steps: first a warm-up
// folder (so that the threads, libvips' included, exist), then, after the parent has capped its
// address space (prlimit --pid) and said "go" on stdin, a folder of hostile images. It prints its
// VmSize before waiting and a JSON line with the outcome at the end. decode-memory.test.ts runs it.
import { readFileSync } from 'node:fs';
import { imageFolder } from '../../src/data/datasets.js';
import { DataLoader } from '../../src/data/loader.js';
import type { TransformConfig } from '../../src/data/transforms.js';

// `node --test dist/test/` also runs this file directly (every file under test/ is a test file
// to it): there it has nothing to do.
if (process.env.CLUSTERFIT_ADDRESS_SPACE_CHILD) await main(JSON.parse(process.env.CLUSTERFIT_ADDRESS_SPACE_CHILD));

interface Job {
  warmup: string;
  hostile: string;
  numWorkers: number;
  skip: boolean;
  /** Training's random crops (which decode JPEGs at reduced size) or extraction's resize and centre crop. */
  crop: 'random' | 'center';
}

async function load(loader: DataLoader): Promise<number> {
  let images = 0;
  try {
    for await (const batch of loader.epoch(0)) {
      images += batch.indices.length;
      batch.dispose();
    }
  } finally {
    await loader.close();
  }
  return images;
}

async function main(job: Job): Promise<void> {
  const transforms: TransformConfig[] =
    job.crop === 'random'
      ? // An output this large keeps the decode at full size (no reduced-size JPEG decode).
        [{ name: 'RandomResizedCrop', size: 1500 }, { name: 'ToTensor' }]
      : [{ name: 'Resize', size: 16 }, { name: 'CenterCrop', size: 16 }, { name: 'ToTensor' }];
  const loader = (root: string): DataLoader =>
    new DataLoader({
      dataset: imageFolder(root),
      transforms,
      batchSize: 2,
      numWorkers: job.numWorkers,
      shuffle: false,
      onError: job.skip ? 'skip' : 'throw',
      configKey: 'DATA.TRAIN',
    });
  // The hostile folder's loader (and its worker thread, whose isolate reserves a code range) is
  // made before the limit: the limit is for the decodes, not for starting threads.
  const hostile = loader(job.hostile);
  await load(loader(job.warmup));
  const vmSize = /VmSize:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  process.stdout.write(`vmsize ${vmSize}\n`);
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.pause();
  let outcome: { images: number; skipped: string[] } | { error: string };
  try {
    const images = await load(hostile);
    outcome = { images, skipped: hostile.skipped.map((f) => f.message) };
  } catch (error) {
    outcome = { error: (error as Error).message };
  }
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
}
