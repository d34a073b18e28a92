// Tiny stand-ins for the files torchvision's datasets read, in their real layouts, so that VISSL's
// torchvision_dataset configs can run without downloading anything: CIFAR batches as Python 2
// pickles of a NumPy array, MNIST idx files, STL-10 binaries and SVHN level 5 MAT-files, all under
// one root (their folders and file names do not collide). Pixels follow a fixed pattern; labels
// cycle through the classes. test/data/torchvision.test.ts checks the readers against torchvision.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Images per file of the train and test splits (CIFAR-10's train split has five files). */
const COUNT = { train: 2, test: 2 };

function pattern(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + seed * 31 + (i >> 5)) % 256;
  return bytes;
}

const op = (text: string): Buffer => Buffer.from(text, 'latin1');
const u32le = (n: number): Buffer => Buffer.from(Uint32Array.of(n).buffer);

/** Python 2's str in a pickle: SHORT_BINSTRING or BINSTRING. */
function pyStr(bytes: Buffer): Buffer {
  return bytes.length < 256
    ? Buffer.concat([op('U'), Buffer.from([bytes.length]), bytes])
    : Buffer.concat([op('T'), u32le(bytes.length), bytes]);
}

/** A small non-negative int: BININT1 or BININT2. */
function pyInt(n: number): Buffer {
  return n < 256 ? Buffer.from([0x4b, n]) : Buffer.from([0x4d, n & 0xff, n >> 8]);
}

/** {'data': uint8 array of n x 3072, <labelsKey>: [...]}, pickled as cPickle's protocol 2 writes it. */
function cifarBatch(data: Buffer, labels: number[], labelsKey: string): Buffer {
  const n = data.length / 3072;
  const dtype = Buffer.concat([
    op('cnumpy\ndtype\n'),
    pyStr(op('u1')),
    op('\x89\x88\x87R('), // (False, True), REDUCE, then the state: (3, '|', None, None, None, -1, -1, 0)
    pyInt(3),
    pyStr(op('|')),
    op('NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xff'),
    pyInt(0),
    op('tb'),
  ]);
  const array = Buffer.concat([
    op('cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n'),
    pyInt(0),
    op('\x85'),
    pyStr(op('b')),
    op('\x87R('), // _reconstruct(ndarray, (0,), 'b'), then the state: (1, (n, 3072), dtype, False, data)
    pyInt(1),
    pyInt(n),
    pyInt(3072),
    op('\x86'),
    dtype,
    op('\x89'),
    pyStr(data),
    op('tb'),
  ]);
  return Buffer.concat([
    op('\x80\x02}('),
    pyStr(op('data')),
    array,
    pyStr(op(labelsKey)),
    op(']('),
    ...labels.map(pyInt),
    op('eu.'),
  ]);
}

function idx(type: number, shape: number[], values: Buffer): Buffer {
  const header = Buffer.alloc(4 + 4 * shape.length);
  header.set([0, 0, type, shape.length]);
  shape.forEach((size, i) => header.writeUInt32BE(size, 4 + 4 * i));
  return Buffer.concat([header, values]);
}

/** A MAT-file data element: tag, data, padding to 8 bytes. */
function matElement(type: number, data: Buffer): Buffer {
  return Buffer.concat([u32le(type), u32le(data.length), data, Buffer.alloc((8 - (data.length % 8)) % 8)]);
}

/** A uint8 array variable (mxUINT8_CLASS, data as miUINT8), column-major `data`. */
function matUint8(name: string, dims: number[], data: Buffer): Buffer {
  const body = Buffer.concat([
    matElement(6, Buffer.concat([u32le(9), u32le(0)])), // array flags: class uint8
    matElement(5, Buffer.concat(dims.map(u32le))), // dimensions (int32)
    matElement(1, op(name)),
    matElement(2, data),
  ]);
  return matElement(14, body);
}

function matFile(variables: Buffer[]): Buffer {
  const header = Buffer.alloc(128, ' ');
  header.write('MATLAB 5.0 MAT-file, written by the ClusterFit VISSL config check', 'latin1');
  header.fill(0, 116, 124);
  header.writeUInt16LE(0x0100, 124);
  header.write('IM', 126, 'latin1');
  return Buffer.concat([header, ...variables]);
}

/** Writes the files of CIFAR10, CIFAR100, MNIST, STL10 and SVHN under `root`. */
export function writeTorchvisionFiles(root: string): void {
  const write = (path: string, bytes: Buffer): void => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, bytes);
  };
  const labels = (n: number, classes: number, seed: number): number[] =>
    Array.from({ length: n }, (_, i) => (i + seed) % classes);
  let seed = 0;
  const cifar10 = { train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}`), test: ['test_batch'] };
  for (const [split, files] of Object.entries(cifar10) as ['train' | 'test', string[]][]) {
    for (const file of files) {
      const n = COUNT[split];
      write(
        join(root, 'cifar-10-batches-py', file),
        cifarBatch(pattern(n * 3072, ++seed), labels(n, 10, seed), 'labels'),
      );
    }
  }
  for (const split of ['train', 'test'] as const) {
    const n = COUNT[split];
    write(
      join(root, 'cifar-100-python', split),
      cifarBatch(pattern(n * 3072, ++seed), labels(n, 100, seed), 'fine_labels'),
    );
    const prefix = join(root, 'MNIST', 'raw', split === 'train' ? 'train' : 't10k');
    write(`${prefix}-images-idx3-ubyte`, idx(8, [n, 28, 28], pattern(n * 784, ++seed)));
    write(`${prefix}-labels-idx1-ubyte`, idx(8, [n], Buffer.from(labels(n, 10, seed))));
    write(join(root, 'stl10_binary', `${split}_X.bin`), pattern(n * 3 * 96 * 96, ++seed));
    write(join(root, 'stl10_binary', `${split}_y.bin`), Buffer.from(labels(n, 10, seed).map((l) => l + 1)));
    const svhn = [
      matUint8('X', [32, 32, 3, n], pattern(n * 3072, ++seed)),
      matUint8('y', [n, 1], Buffer.from(labels(n, 10, seed).map((l) => l + 1))),
    ];
    write(join(root, `${split}_32x32.mat`), matFile(svhn));
  }
}
