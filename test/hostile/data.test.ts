// Hostile image inputs against the data loader: FIFOs, links to devices, dangling links,
// decompression bombs, absurd transforms, a worker thread that dies, and NUM_DATALOADER_WORKERS=0.
// Each ends in an error naming the file or key (or a skip that is counted); none hangs (every test
// is bounded by a timeout) and none escapes as an unhandled rejection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { imageFolder, type Dataset } from '../../src/data/datasets.js';
import { DataLoader, type LoaderOptions } from '../../src/data/loader.js';
import { parseTransforms } from '../../src/data/transforms.js';
import { fifo, linkToDevZero, tempDir } from './files.js';

const BOUND = { timeout: 60_000 };
const dir = tempDir();
const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

async function jpeg(path: string, shade: number): Promise<string> {
  const pixels = Buffer.alloc(24 * 24 * 3, shade);
  await sharp(pixels, { raw: { width: 24, height: 24, channels: 3 } })
    .jpeg()
    .toFile(path);
  return path;
}

/** A PNG whose header says width x height, with a few bytes of data: only the header is honest. */
function pngClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body) >>> 0, 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(64))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A real JPEG whose frame header is patched to claim width x height. */
function jpegClaiming(bytes: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(bytes);
  for (let at = 2; at < out.length;) {
    const marker = out[at + 1]!;
    const length = out.readUInt16BE(at + 2);
    if (marker === 0xc0 || marker === 0xc2) {
      out.writeUInt16BE(height, at + 5);
      out.writeUInt16BE(width, at + 7);
      return out;
    }
    at += 2 + length;
  }
  throw new Error('no SOF');
}

function loader(dataset: Dataset, options: Partial<LoaderOptions> = {}): DataLoader {
  return new DataLoader({
    dataset,
    transforms: [{ name: 'CenterCrop', size: 16 }, { name: 'ToTensor' }],
    batchSize: 4,
    numWorkers: 1,
    shuffle: false,
    configKey: 'DATA.TRAIN',
    ...options,
  });
}

async function drain(l: DataLoader): Promise<number> {
  let images = 0;
  try {
    for await (const batch of l.epoch(0)) {
      images += batch.indices.length;
      batch.dispose();
    }
  } finally {
    await l.close();
  }
  return images;
}

test('FIFOs, links to /dev/zero and dangling links are named (or skipped and counted), never read', BOUND, async () => {
  const root = join(dir, 'special');
  mkdirSync(join(root, 'a'), { recursive: true });
  await jpeg(join(root, 'a', '0.jpg'), 90);
  await jpeg(join(root, 'a', '4.jpg'), 120);
  fifo(join(root, 'a'), '1.jpg');
  linkToDevZero(join(root, 'a'), '2.jpg');
  symlinkSync(join(root, 'nowhere.jpg'), join(root, 'a', '3.jpg'));
  const dataset = imageFolder(root); // the dangling link does not abort the scan
  assert.equal(dataset.samples.length, 5);
  await assert.rejects(drain(loader(dataset)), (error: Error) => {
    assert.match(error.message, /1\.jpg: .*is a FIFO \(named pipe\), not a regular image file/);
    assert.match(error.message, /2\.jpg: .*is a device/);
    assert.match(error.message, /3\.jpg: .*does not exist \(or is a dangling symlink\)/);
    assert.match(error.message, /set DATA\.TRAIN\.SKIP_BAD_IMAGES=True/);
    return true;
  });
  for (const numWorkers of [0, 2]) {
    const skipping = loader(dataset, { onError: 'skip', numWorkers });
    assert.equal(await drain(skipping), 2);
    assert.equal(skipping.skipped.length, 3);
  }
});

test(
  'decompression bombs are refused from the header, before decoding, naming DATA.MAX_IMAGE_PIXELS',
  BOUND,
  async () => {
    const root = join(dir, 'bombs');
    mkdirSync(join(root, 'a'), { recursive: true });
    const small = readFileSync(await jpeg(join(root, 'a', 'ok.jpg'), 60));
    writeFileSync(join(root, 'a', 'bomb.png'), pngClaiming(16000, 16000));
    writeFileSync(join(root, 'a', 'bomb.jpg'), jpegClaiming(small, 16000, 16000));
    const before = process.memoryUsage().rss;
    await assert.rejects(drain(loader(imageFolder(root), { numWorkers: 0 })), (error: Error) => {
      assert.match(error.message, /bomb\.jpg: 16000x16000 exceeds the limit of 178956970 pixels/);
      assert.match(error.message, /bomb\.png: .*exceeds the limit of 178956970 pixels/);
      assert.match(error.message, /raise DATA\.MAX_IMAGE_PIXELS/);
      return true;
    });
    assert.ok(process.memoryUsage().rss - before < 200 << 20, 'nothing was decoded at full size');
  },
);

test('NUM_DATALOADER_WORKERS=0 loads on the main thread: the same batches as with workers', BOUND, async () => {
  const root = join(dir, 'plain');
  for (let i = 0; i < 10; i++) {
    mkdirSync(join(root, `c${i % 2}`), { recursive: true });
    await jpeg(join(root, `c${i % 2}`, `${i}.jpg`), 20 * i);
  }
  const dataset = imageFolder(root);
  const collect = async (numWorkers: number) => {
    const l = loader(dataset, {
      numWorkers,
      shuffle: true,
      seed: 3,
      transforms: [{ name: 'RandomResizedCrop', size: 16 }, { name: 'ToTensor' }],
    });
    const out: number[][] = [];
    for await (const batch of l.epoch(1)) {
      out.push([...batch.indices, ...batch.images.toArray().slice(0, 50)]);
      batch.dispose();
    }
    await l.close();
    return out;
  };
  const inline = await collect(0);
  assert.equal(inline.length, 3);
  assert.deepEqual(inline, await collect(2));
});

test('a loader worker that dies fails the epoch with a message, not an unhandled rejection', BOUND, async () => {
  const root = join(dir, 'plain');
  const l = loader(imageFolder(root), { batchSize: 1, numWorkers: 1, prefetch: 4 });
  const pool = (l as unknown as { pool: { workers: { worker: { terminate(): Promise<number> } }[] } }).pool;
  // Replies already on their way when terminate() is called still arrive, and the pool unrefs a
  // worker with nothing pending, so without this timer nothing would keep the event loop alive
  // until the thread's exit event (the test would end unsettled rather than fail).
  const keepAlive = setInterval(() => {}, 1000);
  try {
    await assert.rejects(
      (async () => {
        for await (const batch of l.epoch(0)) {
          batch.dispose();
          await pool.workers[0]!.worker.terminate();
        }
      })(),
      /a loader worker died/,
    );
  } finally {
    clearInterval(keepAlive);
  }
  await l.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(unhandled, []);
});

test('absurd transforms are refused up front, naming the parameter', BOUND, () => {
  const dataset = imageFolder(join(dir, 'plain'));
  assert.throws(
    () => loader(dataset, { transforms: [{ name: 'CenterCrop', size: 100000 }, { name: 'ToTensor' }] }),
    /needs 120000000000 bytes.*lower DATA\.TRAIN\.BATCHSIZE_PER_REPLICA or the output size in DATA\.TRAIN\.TRANSFORMS/,
  );
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ name: 'Normalize', mean: [0, 0, 0], std: [1, 0, 1] }, /'std' must be positive/],
    [{ name: 'Normalize', mean: [0, 0, 0.5], std: [1, 1, Infinity] }, /finite numbers/],
    [{ name: 'CenterCrop', size: -3 }, /'size' must be positive integers/],
    [{ name: 'RandomResizedCrop', size: 8, scale: [0.5, 0.1] }, /'scale' must be \[min, max\]/],
    [{ name: 'RandomHorizontalFlip', p: 2 }, /'p' must lie in \[0, 1\]/],
    [{ name: 'ColorJitter', brightness: -1 }, /'brightness' must be a finite number >= 0/],
  ];
  for (const [transform, pattern] of bad) {
    const list = transform.name === 'Normalize' ? [{ name: 'ToTensor' }, transform] : [transform];
    assert.throws(() => parseTransforms([{ name: 'CenterCrop', size: 8 }, ...list] as never), pattern);
  }
  assert.throws(
    () => loader(dataset, { numWorkers: -1 }),
    /DATA\.TRAIN\.NUM_DATALOADER_WORKERS must be an integer >= 0/,
  );
});

test('formats no decoder here reads (.bmp, .ppm, .pgm) are not listed as images', BOUND, async () => {
  const root = join(dir, 'formats');
  mkdirSync(join(root, 'a'), { recursive: true });
  await jpeg(join(root, 'a', 'ok.jpg'), 10);
  writeFileSync(join(root, 'a', 'b.bmp'), Buffer.from('BM'));
  writeFileSync(join(root, 'a', 'c.ppm'), Buffer.from('P6\n1 1\n255\nabc'));
  writeFileSync(join(root, 'a', 'd.PGM'), Buffer.from('P5\n1 1\n255\na'));
  assert.deepEqual(
    imageFolder(root).samples.map((s) => s.path),
    [join(root, 'a', 'ok.jpg')],
  );
});
