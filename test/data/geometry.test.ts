// Our geometric transforms (sharp) against torchvision's on PIL images, pixel for pixel.
//
// Tolerance: flips, crops, padding and quarter turns move pixels without resampling and must match
// exactly. Resizes may differ by resampling: libvips' and PIL's antialiased bilinear filters agree
// on the kernel but not on rounding and edge handling, so on our smooth test images we allow a mean
// absolute difference below 0.5 grey level and no pixel more than 4 away (observed: mean <= 0.12,
// max 2), i.e. rounding-level differences, while a misplaced pixel or a wrong filter gives far more.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeAndTransform, probe } from '../../src/data/geometry.js';
import { planGeometry, parseTransforms, type GeometricOp } from '../../src/data/transforms.js';
import { Rng } from '../../src/data/rng.js';
import { reference, tempDir } from './reference.js';

const dir = tempDir();
const SIZES: [number, number][] = [
  [97, 61],
  [61, 97],
  [80, 53],
  [53, 80],
  [64, 64],
];
const imagePath = ([w, h]: [number, number]): string => join(dir, `img_${w}x${h}.png`);
reference(
  'make_images',
  SIZES.map(([width, height]) => ({ width, height, path: imagePath([width, height]) })),
);

type TvOp = [string, ...unknown[]];
interface Case {
  size: [number, number];
  ops: GeometricOp[];
  tv: TvOp[];
  exact: boolean;
}

async function ours(size: [number, number], ops: GeometricOp[]): Promise<Buffer> {
  const bytes = readFileSync(imagePath(size));
  return (await decodeAndTransform(bytes, await probe(bytes), ops, false)).data;
}

function compare(name: string, actual: Buffer, expected: Buffer, exact: boolean): void {
  assert.equal(actual.length, expected.length, `${name}: size differs`);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs((actual[i] as number) - (expected[i] as number));
    sum += d;
    max = Math.max(max, d);
  }
  const mean = sum / actual.length;
  if (exact) assert.equal(max, 0, `${name}: expected identical pixels, max difference ${max}`);
  else assert.ok(mean < 0.5 && max <= 4, `${name}: mean difference ${mean.toFixed(3)}, max ${max}`);
}

async function check(cases: Case[]): Promise<void> {
  const jobs = cases.map((c, i) => ({ image: imagePath(c.size), ops: c.tv, output: join(dir, `out_${i}.raw`) }));
  reference('geometry', jobs);
  for (const [i, c] of cases.entries()) {
    compare(
      `${c.size.join('x')} ${JSON.stringify(c.tv)}`,
      await ours(c.size, c.ops),
      readFileSync(jobs[i]?.output as string),
      c.exact,
    );
  }
}

test('quarter turns, half turns and flips match torchvision exactly (canvas kept, black bars)', async () => {
  const cases: Case[] = SIZES.flatMap((size) =>
    ([90, 180, 270] as const).map((angle) => ({
      size,
      ops: [{ op: 'rotate', angle }, { op: 'flip' }] as GeometricOp[],
      tv: [['rotate', angle], ['hflip']] as TvOp[],
      exact: true,
    })),
  );
  await check(cases);
});

test('center crops (including one larger than the image, padded) match exactly', async () => {
  const cases = SIZES.map((size): Case => {
    const steps = parseTransforms([{ name: 'CenterCrop', size: [50, 70] }]).geometric;
    return {
      size,
      ops: planGeometry(steps, size[1], size[0], new Rng(0), 0).ops,
      tv: [['center_crop', [50, 70]]],
      exact: true,
    };
  });
  await check(cases);
});

test('Resize, Resize + CenterCrop and resized crops match within resampling tolerance', async () => {
  const resize = parseTransforms([
    { name: 'Resize', size: 40 },
    { name: 'CenterCrop', size: 32 },
  ]).geometric;
  const cases = SIZES.flatMap((size): Case[] => [
    {
      size,
      ops: planGeometry(resize, size[1], size[0], new Rng(0), 0).ops,
      tv: [
        ['resize', 40],
        ['center_crop', [32, 32]],
      ],
      exact: false,
    },
    {
      size,
      ops: [
        { op: 'crop', box: { top: 3, left: 5, height: 40, width: 33 } },
        { op: 'resize', height: 24, width: 24 },
        { op: 'flip' },
      ],
      tv: [['resized_crop', 3, 5, 40, 33, [24, 24]], ['hflip']],
      exact: false,
    },
    {
      size,
      ops: [
        { op: 'rotate', angle: 90 },
        { op: 'crop', box: { top: 2, left: 1, height: 50, width: 50 } },
        { op: 'resize', height: 20, width: 30 },
      ],
      tv: [
        ['rotate', 90],
        ['resized_crop', 2, 1, 50, 50, [20, 30]],
      ],
      exact: false,
    },
  ]);
  await check(cases);
});
