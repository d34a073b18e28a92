// Our decoding and geometric transforms against torchvision's on PIL images, pixel for pixel.
//
// Tolerance: none. Flips, crops, padding and quarter turns move pixels, and resizes use PIL's own
// resampling arithmetic (native/image), so every case must give identical pixels. The test images
// are PNGs, so both sides start from the same pixels; JPEG decoding is compared on its own, and
// equals PIL's too (the same libjpeg-turbo IDCT and upsampling).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { decode, decodeAndTransform, decodeJpeg } from '../../src/data/geometry.js';
import { jpegSize } from '../../src/data/header.js';
import { transformInto } from '../../src/data/image-addon.js';
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
}

/** HWC pixels of the CHW planes `transformInto` writes. */
function interleaved(planes: Uint8Array, width: number, height: number): Buffer {
  const plane = width * height;
  return Buffer.from(
    Uint8Array.from({ length: plane * 3 }, (_, i) => planes[(i % 3) * plane + Math.floor(i / 3)] as number),
  );
}

async function ours(size: [number, number], ops: GeometricOp[]): Promise<Buffer> {
  const image = await decode(readFileSync(imagePath(size)));
  const out = new Uint8Array(1 << 20); // room for any result here
  const { width, height } = transformInto(image, ops, out);
  return interleaved(out, width, height); // torchvision's answers are HWC
}

function assertSame(name: string, actual: Buffer, expected: Buffer): void {
  assert.equal(actual.length, expected.length, `${name}: size differs`);
  let differing = 0;
  let max = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs((actual[i] as number) - (expected[i] as number));
    if (d > 0) differing++;
    max = Math.max(max, d);
  }
  assert.equal(differing, 0, `${name}: ${differing} of ${actual.length} values differ, by up to ${max}`);
}

async function check(cases: Case[]): Promise<void> {
  const jobs = cases.map((c, i) => ({ image: imagePath(c.size), ops: c.tv, output: join(dir, `out_${i}.raw`) }));
  reference('geometry', jobs);
  for (const [i, c] of cases.entries()) {
    assertSame(
      `${c.size.join('x')} ${JSON.stringify(c.tv)}`,
      await ours(c.size, c.ops),
      readFileSync(jobs[i]?.output as string),
    );
  }
}

test('quarter turns, half turns and flips match torchvision exactly (canvas kept, black bars)', async () => {
  const cases: Case[] = SIZES.flatMap((size) =>
    ([90, 180, 270] as const).map((angle) => ({
      size,
      ops: [{ op: 'rotate', angle }, { op: 'flip' }] as GeometricOp[],
      tv: [['rotate', angle], ['hflip']] as TvOp[],
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
    };
  });
  await check(cases);
});

test('Resize, Resize + CenterCrop, resized crops (reducing and enlarging) match exactly', async () => {
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
    },
    {
      size,
      ops: [
        { op: 'crop', box: { top: 3, left: 5, height: 40, width: 33 } },
        { op: 'resize', height: 24, width: 24 },
        { op: 'flip' },
      ],
      tv: [['resized_crop', 3, 5, 40, 33, [24, 24]], ['hflip']],
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
    },
    {
      size,
      ops: [
        { op: 'crop', box: { top: 7, left: 4, height: 14, width: 20 } },
        { op: 'resize', height: 40, width: 48 },
        { op: 'flip' },
      ],
      tv: [['resized_crop', 7, 4, 14, 20, [40, 48]], ['hflip']],
    },
    {
      size,
      ops: [{ op: 'resize', height: 9, width: 13 }],
      tv: [['resize', [9, 13]]],
    },
  ]);
  await check(cases);
});

test('tiny images (one-pixel filter ranges) resize exactly as PIL', async () => {
  const tiny: [number, number][] = [
    [1, 1],
    [3, 2],
    [2, 3],
  ];
  reference(
    'make_images',
    tiny.map(([width, height]) => ({ width, height, path: imagePath([width, height]) })),
  );
  await check([
    { size: [1, 1], ops: [{ op: 'resize', height: 4, width: 5 }], tv: [['resize', [4, 5]]] },
    { size: [3, 2], ops: [{ op: 'resize', height: 5, width: 7 }, { op: 'flip' }], tv: [['resize', [5, 7]], ['hflip']] },
    { size: [2, 3], ops: [{ op: 'resize', height: 1, width: 1 }], tv: [['resize', [1, 1]]] },
  ]);
});

test('resampling pixels that are all 0 or 255 (sums at their bounds) matches PIL when reducing and enlarging', async () => {
  const size: [number, number] = [203, 151];
  reference('make_images', [{ width: size[0], height: size[1], path: imagePath(size), pattern: 'extremes' }]);
  await check([
    { size, ops: [{ op: 'resize', height: 5, width: 7 }], tv: [['resize', [5, 7]]] },
    { size, ops: [{ op: 'resize', height: 37, width: 150 }], tv: [['resize', [37, 150]]] },
    { size, ops: [{ op: 'resize', height: 317, width: 409 }], tv: [['resize', [317, 409]]] },
  ]);
});

// CMYK is left out: libvips converts it through a CMYK colour profile, PIL with a naive formula.
test('JPEG decoding (colour 4:2:0, 4:2:2 and 4:4:4, progressive, grey) gives the pixels PIL gives', async () => {
  const specs = [
    { width: 45, height: 31, path: join(dir, 'colour.jpg') },
    { width: 45, height: 31, path: join(dir, 'colour_444.jpg'), save: { subsampling: 0, quality: 90 } },
    { width: 45, height: 31, path: join(dir, 'colour_422.jpg'), save: { subsampling: 1 } },
    { width: 45, height: 31, path: join(dir, 'progressive.jpg'), save: { progressive: true } },
    { width: 45, height: 31, path: join(dir, 'grey.jpg'), mode: 'L' },
  ];
  reference('make_images', specs);
  const jobs = specs.map((spec, i) => ({ image: spec.path, ops: [], output: join(dir, `jpeg_${i}.raw`) }));
  reference('geometry', jobs);
  for (const [i, spec] of specs.entries()) {
    const bytes = readFileSync(spec.path);
    const expected = readFileSync(jobs[i]?.output as string);
    const viaSharp = await decode(bytes);
    assertSame(`${spec.path} (sharp)`, Buffer.from(viaSharp.data), expected);
    const viaTurbo = decodeJpeg(bytes);
    assert.ok(viaTurbo, `${spec.path}: TurboJPEG declined it`);
    assert.deepEqual([viaTurbo.width, viaTurbo.height], [spec.width, spec.height]);
    assertSame(`${spec.path} (TurboJPEG)`, Buffer.from(viaTurbo.data), expected);
  }
});

test('TurboJPEG decodes at 1/2, 1/4 and 1/8 size exactly as PIL draft mode (libjpeg scaled IDCT)', async () => {
  const specs = [
    { width: 403, height: 301, path: join(dir, 'scaled.jpg') },
    { width: 403, height: 301, path: join(dir, 'scaled_grey.jpg'), mode: 'L' },
  ];
  reference('make_images', specs);
  const cases = specs.flatMap((spec) => [2, 4, 8].map((factor) => ({ spec, factor })));
  const jobs = cases.map(({ spec, factor }, i) => ({
    image: spec.path,
    ops: [],
    draft: factor,
    output: join(dir, `draft_${i}.raw`),
  }));
  const shapes = reference<[number, number, number][]>('geometry', jobs);
  for (const [i, { spec, factor }] of cases.entries()) {
    const image = decodeJpeg(readFileSync(spec.path), factor);
    assert.ok(image, `${spec.path} at 1/${factor}: TurboJPEG declined it`);
    const size = [Math.ceil(spec.height / factor), Math.ceil(spec.width / factor)];
    assert.deepEqual([image.height, image.width], size);
    assert.deepEqual(shapes[i]?.slice(0, 2), size, 'PIL chose the same scale');
    assertSame(`${spec.path} at 1/${factor}`, Buffer.from(image.data), readFileSync(jobs[i]?.output as string));
  }
});

test('CMYK, EXIF-oriented and broken JPEGs go to sharp: same pixels as sharp, errors by libvips', async () => {
  const specs = [
    { width: 30, height: 20, path: join(dir, 'fallback_cmyk.jpg'), mode: 'CMYK' },
    { width: 30, height: 20, path: join(dir, 'fallback_exif.jpg'), orientation: 6 },
  ];
  reference('make_images', specs);
  const ops: GeometricOp[] = [
    { op: 'crop', box: { left: 2, top: 3, width: 15, height: 12 } },
    { op: 'resize', width: 9, height: 7 },
    { op: 'flip' },
  ];
  const cmyk = readFileSync(specs[0]?.path as string);
  assert.equal(decodeJpeg(cmyk), null, 'TurboJPEG leaves CMYK to libvips');
  for (const spec of specs) {
    const bytes = readFileSync(spec.path);
    const out = new Uint8Array(9 * 7 * 3);
    await decodeAndTransform(bytes, () => [ops], out, 0, out.length, true);
    const expected = new Uint8Array(out.length);
    transformInto(await decode(bytes), ops, expected);
    assertSame(spec.path, Buffer.from(out), Buffer.from(expected));
  }
  const full = readFileSync(join(dir, 'colour.jpg'));
  const truncated = full.subarray(0, full.length >> 1);
  assert.equal(decodeJpeg(truncated), null, 'a truncated JPEG is left to libvips');
  const out = new Uint8Array(9 * 7 * 3);
  await assert.rejects(
    decodeAndTransform(truncated, () => [ops], out, 0, out.length, true),
    /JPEG|truncat|premature/i,
  );
});

test('the native transform rejects bad programs with a clear error', async () => {
  const image = await decode(readFileSync(imagePath([64, 64])));
  const out = new Uint8Array(64 * 64 * 3);
  assert.throws(
    () => transformInto(image, [{ op: 'crop', box: { left: 60, top: 0, width: 10, height: 10 } }], out),
    /crop 10x10\+60\+0 lies outside the 64x64 image/,
  );
  assert.throws(
    () => transformInto(image, [{ op: 'resize', width: 100, height: 100 }], out),
    /does not fit the output/,
  );
  assert.throws(() => transformInto(image, [{ op: 'rotate', angle: 45 as 90 }], out), /0, 90, 180 or 270/);
});

test('the JPEG header reader gives the displayed size libvips gives (EXIF orientations, grey, CMYK)', async () => {
  const specs = [
    ...[1, 2, 3, 4, 5, 6, 7, 8].map((orientation) => ({
      width: 30,
      height: 20,
      path: join(dir, `orient_${orientation}.jpg`),
      orientation,
    })),
    { width: 17, height: 40, path: join(dir, 'header_grey.jpg'), mode: 'L' },
    { width: 17, height: 40, path: join(dir, 'header_cmyk.jpg'), mode: 'CMYK' },
  ];
  reference('make_images', specs);
  for (const spec of specs) {
    const bytes = readFileSync(spec.path);
    const meta = await sharp(bytes).metadata();
    assert.deepEqual(jpegSize(bytes), meta.autoOrient, spec.path);
  }
  const text = Buffer.from('this is not a JPEG');
  assert.equal(jpegSize(text), null);
  assert.equal(jpegSize(readFileSync(specs[0]?.path as string).subarray(0, 30)), null, 'cut before the frame header');
});

test('shrink-on-load decodes a large JPEG at reduced size and gives nearly the same crop', async () => {
  const path = join(dir, 'large.jpg');
  reference('make_images', [{ width: 400, height: 300, path }]);
  const bytes = readFileSync(path);
  const ops: GeometricOp[] = [
    { op: 'crop', box: { left: 40, top: 30, width: 320, height: 240 } },
    { op: 'resize', width: 40, height: 30 },
  ];
  const [full, shrunk] = [new Uint8Array(40 * 30 * 3), new Uint8Array(40 * 30 * 3)];
  await decodeAndTransform(bytes, () => [ops], full, 0, full.length, false);
  await decodeAndTransform(bytes, () => [ops], shrunk, 0, shrunk.length, true);
  const mean = full.reduce((sum, v, i) => sum + Math.abs(v - (shrunk[i] as number)), 0) / full.length;
  // Decoding at 1/4 scale averages in the DCT domain: close to, not equal to, the full decode.
  assert.ok(mean > 0 && mean < 3, `mean difference ${mean.toFixed(3)}`);
});

test('without the image addon the loader refuses to start and says how to build it', () => {
  const loader = join(dirname(fileURLToPath(import.meta.url)), '../../src/data/loader.js');
  const script = `import { DataLoader } from ${JSON.stringify(loader)};
new DataLoader({ dataset: { samples: [] }, transforms: [{ name: 'CenterCrop', size: 8 }], batchSize: 1, numWorkers: 1 });`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, CLUSTERFIT_IMAGE: join(dir, 'no-such-addon.node') },
    encoding: 'utf8',
  });
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /image addon is not built .*no-such-addon\.node.*npm run build .*libturbojpeg0-dev/);
});
