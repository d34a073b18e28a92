// Datasets and the loader: ImageFolder's order, disk_filelist and label sources, determinism across
// worker counts, epochs and resumption, and unreadable images reported by name or skipped.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { diskFilelist, imageFolder, withLabels } from '../../src/data/datasets.js';
import { DataLoader, type LoaderOptions } from '../../src/data/loader.js';
import { memoryStats } from '../../src/torch/index.js';
import { reference, tempDir } from './reference.js';

const dir = tempDir();
const root = join(dir, 'folder');
// Names that sort differently under JS's UTF-16 order, case-sensitively, and nested.
const files = [
  'b/z.JPG',
  'b/a.png',
  'b/sub/c.jpeg',
  'b/sub b/d.png',
  'b/notes.txt',
  'a/𝒳.png',
  'a/ｘ.png',
  'a/A.webp',
  'Z/x.jpg',
];
for (const f of files) mkdirSync(join(root, f, '..'), { recursive: true });
reference(
  'make_images',
  files.filter((f) => !f.endsWith('.txt')).map((f, i) => ({ width: 40 + i * 3, height: 30 + i, path: join(root, f) })),
);
writeFileSync(join(root, 'b/notes.txt'), 'not an image');

test('imageFolder sorts classes and files exactly as torchvision ImageFolder', () => {
  const expected = reference<{ classes: string[]; samples: [string, number][] }>('image_folder', { root });
  const ours = imageFolder(root);
  assert.deepEqual(ours.classes, expected.classes);
  assert.deepEqual(
    ours.samples.map((s) => [s.path, s.label]),
    expected.samples,
  );
  assert.deepEqual(
    ours.samples.map((s) => s.index),
    expected.samples.map((_, i) => i),
  );
});

test('disk_filelist and label sources read .npy files; a length mismatch is a clear error', () => {
  const paths = imageFolder(root).samples.map((s) => s.path);
  const [images, labels, short, names, floats] = ['images', 'labels', 'short', 'names', 'floats'].map((n) =>
    join(dir, `${n}.npy`),
  ) as [string, string, string, string, string];
  reference('npy', [
    [images, paths, 'str'],
    [labels, paths.map((_, i) => 100 + i), 'int64'],
    [short, [1, 2], 'int32'],
    [names, paths.map((_, i) => ['dog', 'cat'][i % 2]), 'str'],
    [floats, paths.map((_, i) => i + 0.5), 'float32'],
  ]);
  const ds = diskFilelist(images, labels);
  assert.deepEqual(
    ds.samples.map((s) => s.path),
    paths,
  );
  assert.deepEqual(
    ds.samples.map((s) => s.label),
    paths.map((_, i) => 100 + i),
  );
  assert.deepEqual(
    diskFilelist(images).samples.map((s) => s.label),
    paths.map((_, i) => i),
  );
  assert.deepEqual(
    withLabels(ds, names).samples.map((s) => s.label),
    paths.map((_, i) => [1, 0][i % 2]),
  );
  assert.throws(() => withLabels(ds, short), /short\.npy has 2 labels but the dataset has \d+ images/);
  assert.throws(() => withLabels(ds, floats), /floats\.npy: labels must be integers \(or strings\), found float32/);
  assert.throws(() => diskFilelist(labels), /labels\.npy: expected an array of image paths \(strings\), found numbers/);
});

const TRAIN = [
  { name: 'ImgRotatePil' },
  { name: 'RandomResizedCrop', size: 16 },
  { name: 'ColorJitter', brightness: [0.6, 1.4], contrast: [0.6, 1.4], saturation: [0.6, 1.4], hue: [-0.2, 0.2] },
  { name: 'RandomHorizontalFlip' },
  { name: 'ToTensor' },
  { name: 'Normalize', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
];

async function collect(
  options: Partial<LoaderOptions>,
  epoch: number,
  startStep = 0,
): Promise<{ images: number[][]; labels: number[][]; indices: number[][] }> {
  const loader = new DataLoader({
    dataset: imageFolder(root),
    transforms: TRAIN,
    batchSize: 3,
    numWorkers: 1,
    seed: 5,
    ...options,
  });
  const out = { images: [] as number[][], labels: [] as number[][], indices: [] as number[][] };
  try {
    for await (const batch of loader.epoch(epoch, { startStep })) {
      out.images.push(Array.from(batch.images.data() as Float32Array));
      out.labels.push(batch.labels.toArray());
      out.indices.push([...batch.indices]);
      batch.dispose();
    }
  } finally {
    await loader.close();
  }
  return out;
}

test('same seed and epoch give the same batches with any worker count; epochs differ; resume mid-epoch', async () => {
  const before = memoryStats();
  const one = await collect({ numWorkers: 1 }, 3);
  const two = await collect({ numWorkers: 2, prefetch: 1 }, 3);
  assert.deepEqual(two, one);
  assert.ok(
    one.labels.flat().every((l) => l >= 0 && l < 4),
    'ImgRotatePil replaces labels by rotation indices',
  );
  const other = await collect({ numWorkers: 2 }, 4);
  assert.notDeepEqual(other.indices, one.indices);
  const resumed = await collect({ numWorkers: 2 }, 3, 2);
  assert.deepEqual(resumed.indices, one.indices.slice(2));
  assert.deepEqual(resumed.images, one.images.slice(2));
  assert.equal(memoryStats().liveTensors, before.liveTensors, 'no tensors leak per batch');
});

test('RotNet all-rotations variant and drop-last', async () => {
  const transforms = [
    { name: 'ImgRotatePil', num_rotations_per_img: 4 },
    { name: 'CenterCrop', size: 20 },
  ];
  const loader = new DataLoader({
    dataset: imageFolder(root),
    transforms,
    batchSize: 3,
    numWorkers: 1,
    dropLast: true,
  });
  let batches = 0;
  for await (const batch of loader.epoch(0)) {
    assert.deepEqual(batch.images.shape, [12, 3, 20, 20]);
    assert.equal(batch.images.dtype, 'uint8');
    assert.deepEqual(batch.labels.toArray(), [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
    batch.dispose();
    batches++;
  }
  await loader.close();
  assert.equal(batches, Math.floor(8 / 3));
});

test('odd and broken images: decoded to RGB, or reported by name / skipped and counted', async () => {
  const odd = join(dir, 'odd');
  mkdirSync(odd, { recursive: true });
  const good = [
    { width: 1, height: 1, path: join(odd, 'one.png') },
    { width: 30, height: 20, path: join(odd, 'sixteen.png'), mode: 'I;16' },
    { width: 30, height: 20, path: join(odd, 'cmyk.jpg'), mode: 'CMYK' },
    { width: 30, height: 20, path: join(odd, 'gray.png'), mode: 'L' },
    { width: 30, height: 20, path: join(odd, 'alpha.png'), mode: 'RGBA' },
    { width: 30, height: 20, path: join(odd, 'exif.jpg'), orientation: 6 },
    { width: 30, height: 20, path: join(odd, 'full.jpg') },
  ];
  reference('make_images', good);
  const full = readFileSync(join(odd, 'full.jpg'));
  writeFileSync(join(odd, 'truncated.jpg'), full.subarray(0, full.length >> 1));
  writeFileSync(join(odd, 'empty.jpg'), '');
  writeFileSync(join(odd, 'text.jpg'), 'this is not a JPEG');
  const bad = ['truncated.jpg', 'empty.jpg', 'text.jpg', 'missing.jpg'].map((f) => join(odd, f));
  const samples = [...good.map((g) => g.path), ...bad].map((path, index) => ({ index, path, label: index }));
  const transforms = [{ name: 'Resize', size: [8, 8] }];

  const skipping = new DataLoader({
    dataset: { samples },
    transforms,
    batchSize: 4,
    numWorkers: 2,
    shuffle: false,
    onError: 'skip',
  });
  const seen: number[] = [];
  for await (const batch of skipping.epoch(0)) {
    assert.deepEqual(batch.images.shape.slice(1), [3, 8, 8]);
    seen.push(...batch.indices);
    batch.dispose();
  }
  await skipping.close();
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(skipping.skipped.map((f) => f.path).sort(), [...bad].sort());

  const strict = new DataLoader({
    dataset: { samples: samples.slice(6) },
    transforms,
    batchSize: 2,
    numWorkers: 1,
    shuffle: false,
  });
  await assert.rejects(async () => {
    for await (const batch of strict.epoch(0)) batch.dispose();
  }, /truncated\.jpg/);
  await strict.close();
});

test('close() after an epoch failed mid-flight settles, even when nothing else keeps the process alive', () => {
  // The failing batch rejects while the next one is still in a worker; that worker's late reply
  // must not unref it while close() waits for it to exit, or a script's final await never settles.
  const odd = join(dir, 'odd');
  const loaderModule = new URL('../../src/data/loader.js', import.meta.url).href;
  const script = `
import { DataLoader } from ${JSON.stringify(loaderModule)};
const samples = ['full.jpg', 'truncated.jpg', 'empty.jpg', 'text.jpg'].map((n, index) => ({ index, path: ${JSON.stringify(odd)} + '/' + n, label: 0 }));
const loader = new DataLoader({ dataset: { samples }, transforms: [{ name: 'Resize', size: [8, 8] }], batchSize: 2, numWorkers: 1, shuffle: false });
try { for await (const batch of loader.epoch(0)) batch.dispose(); } catch {}
await loader.close();
console.log('closed');
`;
  const file = join(dir, 'close-after-failure.mjs');
  writeFileSync(file, script);
  for (let run = 0; run < 3; run++) {
    const child = spawnSync(process.execPath, [file], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), 'closed');
  }
});
