// CIFAR-10 and CIFAR-100 as torchvision reads them: <root>/cifar-10-batches-py/data_batch_1..5 (train)
// and test_batch, or <root>/cifar-100-python/train and test. Each file is a Python 2 pickle of a dict
// whose 'data' is a uint8 NumPy array of N x 3072 (the red, green and blue 32x32 planes of each
// image) and whose 'labels' (CIFAR-10) or 'fine_labels' (CIFAR-100) list one class per image.
// torchvision unpickles it with encoding='latin1'; here the restricted unpickler does, with NumPy's
// array reconstruction as its only globals. torchvision also checks each file's MD5 sum; here the
// file's structure is checked instead (shape, type, one label per image).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unpickle } from '../../torch/io/pickle.js';
import { NdArray, NUMPY_GLOBALS } from './numpy-pickle.js';
import { requireDatasetFile, type ImageFile } from './store.js';

const LAYOUTS = {
  CIFAR10: {
    folder: 'cifar-10-batches-py',
    train: ['data_batch_1', 'data_batch_2', 'data_batch_3', 'data_batch_4', 'data_batch_5'],
    test: ['test_batch'],
    url: 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz',
  },
  CIFAR100: {
    folder: 'cifar-100-python',
    train: ['train'],
    test: ['test'],
    url: 'https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz',
  },
} as const;

const SIDE = 32;
const IMAGE_BYTES = 3 * SIDE * SIDE;

function readBatch(path: string): ImageFile {
  const { value } = unpickle(readFileSync(path), {
    globals: NUMPY_GLOBALS,
    source: path,
    encoding: 'latin1',
    expected:
      'a CIFAR batch holds a dict of lists, strings and NumPy arrays only (the file may be malicious, or is not a CIFAR batch)',
  });
  const bad = (what: string): never => {
    throw new Error(`${path}: not a CIFAR batch (${what})`);
  };
  if (!(value instanceof Map)) return bad('the pickle holds no dict');
  const data: unknown = value.get('data');
  if (!(data instanceof NdArray)) return bad("no NumPy array under 'data'");
  const count = data.shape[0] ?? 0;
  const perImage = data.shape.slice(1).reduce((a, b) => a * b, 1);
  if (data.dtype?.name !== 'u1' || perImage !== IMAGE_BYTES || (data.fortranOrder && data.shape.length > 1))
    bad(
      `'data' is ${data.dtype?.name} of shape (${data.shape.join(', ')})${data.fortranOrder ? ' in Fortran order' : ''}, not uint8 of N x ${IMAGE_BYTES}`,
    );
  // torchvision takes 'labels' when the dict has it, else 'fine_labels' (CIFAR-100's 100 classes).
  const key = value.has('labels') ? 'labels' : 'fine_labels';
  const labels: unknown = value.get(key);
  if (!Array.isArray(labels) || !labels.every((l) => Number.isInteger(l)))
    bad(`no list of integer labels under 'labels' or 'fine_labels'`);
  return {
    path,
    images: {
      data: data.bytes,
      count,
      height: SIDE,
      width: SIDE,
      channels: 3,
      strides: { image: IMAGE_BYTES, channel: SIDE * SIDE, row: SIDE, column: 1 },
    },
    labels: labels as number[],
  };
}

/** The files torchvision reads for CIFAR10 or CIFAR100's train or test split under `root`. */
export function cifarFiles(name: keyof typeof LAYOUTS, root: string, train: boolean): string[] {
  const layout = LAYOUTS[name];
  return (train ? layout.train : layout.test).map((file) => join(root, layout.folder, file));
}

/** The image files of CIFAR10 or CIFAR100's train or test split under `root`. */
export function readCifar(name: keyof typeof LAYOUTS, root: string, train: boolean): ImageFile[] {
  const paths = cifarFiles(name, root, train);
  for (const path of paths) requireDatasetFile(path, name, root, LAYOUTS[name].url);
  return paths.map(readBatch);
}
