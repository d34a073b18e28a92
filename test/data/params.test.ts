// Random parameters and batched photometric transforms against torchvision: RandomResizedCrop's
// sampler given the same uniform draws, ColorJitter/RandomGrayscale/Normalize given the same
// factors, and DistributedSampler's index lists for the same seed and epoch.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { randomResizedCropBox } from '../../src/data/crop-params.js';
import { applyPhotometric, drawJitter } from '../../src/data/photometric.js';
import { Rng, Stream } from '../../src/data/rng.js';
import { distributedIndices } from '../../src/data/sampler.js';
import { parseTransforms, type JitterRanges } from '../../src/data/transforms.js';
import { tensor } from '../../src/torch/index.js';
import { reference, tempDir } from './reference.js';

test('RandomResizedCrop.get_params: same boxes as torchvision for the same uniform draws', () => {
  const rng = new Rng(42);
  const shapes: [number, number, [number, number], [number, number]][] = [
    [224, 224, [0.08, 1], [3 / 4, 4 / 3]],
    [500, 375, [0.08, 1], [3 / 4, 4 / 3]],
    [13, 900, [0.08, 1], [3 / 4, 4 / 3]], // ten failed attempts, wide fallback
    [900, 13, [0.5, 1], [3 / 4, 4 / 3]], // tall fallback
    [50, 60, [0.9, 1], [1, 1]],
  ];
  const cases = Array.from({ length: 300 }, (_, i) => {
    const [width, height, scale, ratio] = shapes[i % shapes.length] as (typeof shapes)[number];
    return { width, height, scale, ratio, draws: Array.from({ length: 22 }, () => rng.uniform()) };
  });
  const expected = reference<number[][]>('crop_params', cases);
  cases.forEach((c, i) => {
    const draws = c.draws[Symbol.iterator]();
    const next = (): number => draws.next().value as number;
    const box = randomResizedCropBox(c.height, c.width, c.scale, c.ratio, {
      uniform: (low, high) => low + next() * (high - low),
      randint: (low, high) => low + Math.floor(next() * (high - low)),
    });
    assert.deepEqual([box.top, box.left, box.height, box.width], expected[i], `case ${i} (${c.width}x${c.height})`);
  });
});

test('ColorJitter, RandomGrayscale and Normalize match torchvision (Normalize exactly)', () => {
  const dir = tempDir();
  const [n, h, w] = [6, 9, 7];
  const pixels = Uint8Array.from({ length: n * h * w * 3 }, (_, i) => (i * 37 + ((i * i) % 101)) % 256);
  const transforms = [
    { name: 'ColorJitter', brightness: [0.6, 1.4], contrast: [0.6, 1.4], saturation: [0.6, 1.4], hue: [-0.2, 0.2] },
    { name: 'RandomGrayscale', p: 0.5 },
    { name: 'ToTensor' },
    { name: 'Normalize', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  ];
  const { photometric } = parseTransforms([{ name: 'CenterCrop', size: 7 }, ...transforms]);
  const keys = Array.from({ length: n }, (_, i) => ({ index: 10 + i, copy: 0 }));
  const [seed, epoch] = [3, 1];
  const hwc = tensor(pixels, { shape: [n, h, w, 3] });
  const images = hwc.permute(0, 3, 1, 2); // the loader's NCHW
  const out = applyPhotometric(images, photometric, keys, seed, epoch, 'cpu');
  const ours = out.data() as Float32Array;
  images.dispose();
  out.dispose();

  // The same per-image draws, replayed for torchvision.
  const ranges = (photometric[0] as { factors: JitterRanges }).factors;
  const replay = keys.map((k) => {
    const rng = new Rng(seed, epoch, k.index, Stream.Photometric, k.copy);
    const jitter = drawJitter(ranges, rng);
    return { ...jitter, gray: rng.uniform() < 0.5 };
  });
  writeFileSync(join(dir, 'in.raw'), pixels);
  const job = {
    input: join(dir, 'in.raw'),
    output: join(dir, 'out.raw'),
    shape: [n, h, w, 3],
    order: replay.map((r) => r.order),
    factors: replay.map((r) => r.factors),
    gray: replay.map((r) => r.gray),
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
  };
  reference('photometric', job);
  const expected = new Float32Array(readFileSync(job.output).buffer.slice(0));
  assert.ok(replay.some((r) => r.gray) && replay.some((r) => !r.gray), 'both grayscale outcomes are exercised');
  const worst = ours.reduce((m, v, i) => Math.max(m, Math.abs(v - (expected[i] as number))), 0);
  assert.ok(worst < 1e-4, `max difference ${worst}`);

  // Normalize alone: bit-identical to torchvision's ToTensor + Normalize.
  const plain = parseTransforms([{ name: 'CenterCrop', size: 7 }, ...transforms.slice(2)]).photometric;
  const plainImages = hwc.permute(0, 3, 1, 2);
  const normalized = applyPhotometric(plainImages, plain, keys, seed, epoch, 'cpu');
  reference('photometric', { ...job, order: keys.map(() => []), gray: keys.map(() => false) });
  assert.deepEqual(normalized.data(), new Float32Array(readFileSync(job.output).buffer.slice(0)));
  plainImages.dispose();
  normalized.dispose();
  hwc.dispose();
});

test('distributed sampler: the index lists of torch.utils.data.DistributedSampler', () => {
  for (const [n, world, dropUneven, shuffle] of [
    [10, 3, false, true],
    [10, 3, true, true],
    [5, 4, false, false],
    [2, 5, false, true], // more padding than samples
  ] as [number, number, boolean, boolean][]) {
    const job = { n, world, seed: 7, epoch: 2, shuffle, drop_last: dropUneven };
    const expected = reference<number[][]>('sampler', job);
    const ours = Array.from({ length: world }, (_, rank) =>
      distributedIndices(n, { seed: 7, epoch: 2, shuffle, rank, worldSize: world, dropUneven }),
    );
    assert.deepEqual(ours, expected, JSON.stringify(job));
    const covered = new Set(ours.flat());
    if (!dropUneven) assert.equal(covered.size, n, 'every index is visited');
  }
});
