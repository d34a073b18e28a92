// SVHN (cropped digits) as torchvision reads it: <root>/train_32x32.mat or test_32x32.mat, MAT-files
// whose X is a uint8 array of 32 x 32 x 3 x N (rows, columns, channels, images; column-major) and
// whose y holds one label per image, 1..10 with 10 for the digit 0, which torchvision maps to 0.
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { matValues, readMatFile } from './mat.js';
import { requireDatasetFile, type ImageFile } from './store.js';

const MI_UINT8 = 2;

/** The MAT-file of SVHN's split under `root`. */
export function svhnFile(root: string, train: boolean): string {
  return join(root, train ? 'train_32x32.mat' : 'test_32x32.mat');
}

export function readSvhn(root: string, train: boolean): ImageFile[] {
  const path = svhnFile(root, train);
  const file = basename(path);
  requireDatasetFile(path, 'SVHN', root, `http://ufldl.stanford.edu/housenumbers/${file}`);
  const variables = readMatFile(readFileSync(path), path, ['X', 'y']);
  const [x, y] = [variables.get('X'), variables.get('y')];
  if (x === undefined || y === undefined)
    throw new Error(`${path}: no numeric variable ${x === undefined ? 'X' : 'y'}; not an SVHN file`);
  const [height, width, channels, count] = x.dims;
  if (x.dims.length !== 4 || channels !== 3 || x.className !== 'uint8' || x.type !== MI_UINT8)
    throw new Error(`${path}: X is ${x.className} of ${x.dims.join('x')}, not uint8 images of 32x32x3xN`);
  // loadmat(...)['y'].astype(np.int64).squeeze(): truncated to integers, 10 meaning the digit 0.
  // A NaN or infinite label has no integer (NumPy makes it -2^63): refused, naming it.
  const labels = Array.from(matValues(y), (label, i) => {
    if (!Number.isFinite(label))
      throw new Error(`${path}: label y[${i}] is ${label}, not a digit class (1..10); the file is damaged`);
    return Math.trunc(label) === 10 ? 0 : Math.trunc(label);
  });
  return [
    {
      path,
      images: {
        data: x.data,
        count: count!,
        height: height!,
        width: width!,
        channels: 3,
        strides: { image: height! * width! * 3, channel: height! * width!, row: 1, column: height! },
      },
      labels,
    },
  ];
}
