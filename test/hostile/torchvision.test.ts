// Hostile torchvision dataset files, made here byte by byte: gzip and MAT-file decompression
// bombs (inflated no further than their own headers say, and refused before inflating when the
// header claims more than the compressed bytes can hold), unused compressed variables (never
// inflated), special files under a .gz name, damaged gzip streams, datasets of zero images and
// NaN labels. Each ends in one error naming the file; nothing hangs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { torchvisionDataset } from '../../src/data/index.js';
import { tempDir } from './files.js';

const BOUND = { timeout: 60_000 };
const dir = tempDir();

function idx(shape: number[], values: Buffer = Buffer.alloc(shape.reduce((a, b) => a * b, 1))): Buffer {
  const header = Buffer.alloc(4 + 4 * shape.length);
  header[2] = 0x08;
  header[3] = shape.length;
  shape.forEach((size, i) => header.writeUInt32BE(size, 4 + 4 * i));
  return Buffer.concat([header, values]);
}

/** An MNIST root whose train images are `images` (a .gz when the name says so) with `count` labels. */
function mnistRoot(name: string, imagesFile: string, images: Buffer | null, count = 6): string {
  const raw = join(dir, name, 'MNIST', 'raw');
  mkdirSync(raw, { recursive: true });
  if (images) writeFileSync(join(raw, imagesFile), images);
  writeFileSync(join(raw, 'train-labels-idx1-ubyte'), idx([count]));
  return join(dir, name);
}

function padded(data: Buffer): Buffer {
  return Buffer.concat([data, Buffer.alloc((8 - (data.length % 8)) % 8)]);
}

function element(type: number, data: Buffer, size = data.length): Buffer {
  const tag = Buffer.alloc(8);
  tag.writeUInt32LE(type, 0);
  tag.writeUInt32LE(size, 4);
  return Buffer.concat([tag, padded(data)]);
}

interface Variable {
  name: string;
  dims: number[];
  /** uint8 bytes, or doubles. */
  values: Buffer | number[];
  compress?: boolean;
  /** What the compressed variable's miMATRIX tag claims (default: the truth). */
  claimedSize?: number;
  /** Bytes cut from the end of the compressed stream. */
  cut?: number;
}

/** A little-endian level 5 MAT-file, as scipy.io.savemat writes one. */
function matFile(variables: Variable[]): Buffer {
  const header = Buffer.alloc(128, ' ');
  header.write('MATLAB 5.0 MAT-file, written by a clusterfit test', 'latin1');
  header.writeUInt16LE(0x0100, 124);
  header.write('IM', 126, 'latin1');
  const parts = variables.map((v) => {
    const doubles = Array.isArray(v.values);
    const flags = Buffer.alloc(8);
    flags.writeUInt32LE(doubles ? 6 : 9, 0); // mxDOUBLE_CLASS or mxUINT8_CLASS
    const dims = Buffer.alloc(4 * v.dims.length);
    v.dims.forEach((d, i) => dims.writeInt32LE(d, 4 * i));
    const real = Array.isArray(v.values)
      ? element(9, Buffer.from(Float64Array.from(v.values).buffer))
      : element(2, v.values);
    const body = Buffer.concat([element(6, flags), element(5, dims), element(1, Buffer.from(v.name)), real]);
    const matrix = element(14, body);
    if (!v.compress) return matrix;
    if (v.claimedSize !== undefined) matrix.writeUInt32LE(v.claimedSize, 4);
    const compressed = deflateSync(matrix);
    const stream = compressed.subarray(0, compressed.length - (v.cut ?? 0));
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(15, 0);
    tag.writeUInt32LE(stream.length, 4);
    return Buffer.concat([tag, stream]);
  });
  return Buffer.concat([header, ...parts]);
}

function svhnRoot(name: string, variables: Variable[]): string {
  const root = join(dir, name);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'test_32x32.mat'), matFile(variables));
  return root;
}

const images = (count: number): Variable => ({
  name: 'X',
  dims: [32, 32, 3, count],
  values: Buffer.alloc(32 * 32 * 3 * count, 7),
  compress: true,
});

test(
  'MNIST .gz: a bomb stops at the size its header declares; an impossible header is refused uninflated',
  BOUND,
  () => {
    // The header declares 6 x 28 x 28 = 4,704 values; the stream goes on to 300 MB of zeros.
    const bomb = gzipSync(Buffer.concat([idx([6, 28, 28]), Buffer.alloc(300 * 2 ** 20)]));
    const root = mnistRoot('mnist-bomb', 'train-images-idx3-ubyte.gz', bomb);
    assert.throws(
      () => torchvisionDataset('MNIST', root, true),
      /train-images-idx3-ubyte\.gz: the gzip file inflates to more than the 4720 bytes its header declares; .*decompression bomb/,
    );
    // 60,000 x 2,000 x 2,000 values from a few hundred bytes: refused from the header alone.
    const liar = gzipSync(Buffer.concat([idx([60000, 2000, 2000], Buffer.alloc(0)), Buffer.alloc(100)]));
    const root2 = mnistRoot('mnist-liar', 'train-images-idx3-ubyte.gz', liar, 60000);
    assert.throws(
      () => torchvisionDataset('MNIST', root2, true),
      /train-images-idx3-ubyte\.gz: the gzip file's header declares 240000000016 bytes, more than its \d+ compressed bytes can hold/,
    );
    // An honest .gz still reads.
    const good = mnistRoot('mnist-good', 'train-images-idx3-ubyte.gz', gzipSync(idx([6, 28, 28])));
    assert.equal(torchvisionDataset('MNIST', good, true).samples.length, 6);
  },
);

test('MNIST .gz: a link to /dev/urandom is refused unread; damaged streams name the file', BOUND, () => {
  const root = mnistRoot('mnist-urandom', 'unused', null);
  symlinkSync('/dev/urandom', join(root, 'MNIST', 'raw', 'train-images-idx3-ubyte.gz'));
  assert.throws(
    () => torchvisionDataset('MNIST', root, true),
    /train-images-idx3-ubyte\.gz: is a (character )?device.*not a regular MNIST file/,
  );
  const whole = gzipSync(idx([6, 28, 28]));
  const damaged: [string, Buffer][] = [
    ['truncated', whole.subarray(0, whole.length - 12)],
    ['garbage', Buffer.from('this is not gzip data at all, just text')],
    ['trailing', Buffer.concat([whole, Buffer.from('trailing garbage!')])],
  ];
  for (const [name, bytes] of damaged) {
    const bad = mnistRoot(`mnist-${name}`, 'train-images-idx3-ubyte.gz', bytes);
    assert.throws(
      () => torchvisionDataset('MNIST', bad, true),
      /mnist-\w+\/MNIST\/raw\/train-images-idx3-ubyte\.gz: (the gzip file is damaged and does not inflate \(.+\)|not an idx file|the header declares)/,
      name,
    );
  }
});

test('SVHN: unused compressed variables are skipped uninflated; X inflates no further than its tag', BOUND, () => {
  // A 256 MB variable before X, cut short: inflating it would fail (or take 256 MB); skipped, it does neither.
  const junk: Variable = {
    name: 'junk',
    dims: [256 * 2 ** 20, 1],
    values: Buffer.alloc(256 * 2 ** 20),
    compress: true,
    cut: 100,
  };
  const labels: Variable = { name: 'y', dims: [2, 1], values: [1, 10], compress: true };
  const root = svhnRoot('svhn-junk', [junk, images(2), labels]);
  const dataset = torchvisionDataset('SVHN', root, false);
  assert.deepEqual(
    dataset.samples.map((s) => s.label),
    [1, 0],
  );
  // X's tag says 1 KB; its stream holds 6 KB more.
  const lying = { ...images(2), claimedSize: 1024 };
  assert.throws(
    () => torchvisionDataset('SVHN', svhnRoot('svhn-lying', [lying, labels]), false),
    /test_32x32\.mat: the compressed variable inflates to more than the 1032 bytes its header declares/,
  );
  const impossible = { ...images(2), claimedSize: 2 ** 32 - 8 };
  assert.throws(
    () => torchvisionDataset('SVHN', svhnRoot('svhn-impossible', [impossible, labels]), false),
    /test_32x32\.mat: the compressed variable's header declares 4294967296 bytes, more than its \d+ compressed bytes can hold/,
  );
});

test('zero images is an error naming the files; a NaN SVHN label is named', BOUND, () => {
  const mnist = mnistRoot('mnist-empty', 'train-images-idx3-ubyte', idx([0, 28, 28]), 0);
  assert.throws(
    () => torchvisionDataset('MNIST', mnist, true),
    /mnist-empty\/MNIST\/raw\/train-images-idx3-ubyte: no images \(the file holds 0\); the dataset files are empty or damaged/,
  );
  const stl = join(dir, 'stl-empty', 'stl10_binary');
  mkdirSync(stl, { recursive: true });
  writeFileSync(join(stl, 'test_X.bin'), Buffer.alloc(0));
  writeFileSync(join(stl, 'test_y.bin'), Buffer.alloc(0));
  assert.throws(() => torchvisionDataset('STL10', join(dir, 'stl-empty'), false), /test_X\.bin: no images/);
  const svhn = svhnRoot('svhn-empty', [images(0), { name: 'y', dims: [0, 1], values: [] }]);
  assert.throws(() => torchvisionDataset('SVHN', svhn, false), /test_32x32\.mat: no images/);
  const nan = svhnRoot('svhn-nan', [images(2), { name: 'y', dims: [2, 1], values: [3, Number.NaN] }]);
  assert.throws(
    () => torchvisionDataset('SVHN', nan, false),
    /test_32x32\.mat: label y\[1\] is NaN, not a digit class \(1\.\.10\); the file is damaged/,
  );
});
