// STL-10 as torchvision reads it: <root>/stl10_binary/{train,test}_X.bin, each image 3 x 96 x 96
// bytes (a plane per channel, each plane column-major as MATLAB wrote it), and {train,test}_y.bin,
// one byte per image holding the class 1..10, which torchvision makes 0-based (as uint8, so a 0
// would become 255). VISSL reads the labelled 'train' (5,000) and 'test' (8,000) splits, never
// 'unlabeled'.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireDatasetFile, type ImageFile } from './store.js';

const SIDE = 96;
const IMAGE_BYTES = 3 * SIDE * SIDE;
const URL = 'http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz';

function fileOf(root: string, train: boolean, kind: 'X' | 'y'): string {
  return join(root, 'stl10_binary', `${train ? 'train' : 'test'}_${kind}.bin`);
}

/** The file of STL10's split under `root` that holds its images. */
export function stl10ImageFile(root: string, train: boolean): string {
  return fileOf(root, train, 'X');
}

export function readStl10(root: string, train: boolean): ImageFile[] {
  const imagesPath = fileOf(root, train, 'X');
  const labelsPath = fileOf(root, train, 'y');
  requireDatasetFile(imagesPath, 'STL10', root, URL);
  requireDatasetFile(labelsPath, 'STL10', root, URL);
  const data = readFileSync(imagesPath);
  if (data.length % IMAGE_BYTES !== 0)
    throw new Error(`${imagesPath}: ${data.length} bytes is not a whole number of 3x96x96 images; the file is damaged`);
  const labels = readFileSync(labelsPath).map((label) => (label - 1) & 0xff);
  return [
    {
      path: imagesPath,
      images: {
        data,
        count: data.length / IMAGE_BYTES,
        height: SIDE,
        width: SIDE,
        channels: 3,
        strides: { image: IMAGE_BYTES, channel: SIDE * SIDE, row: 1, column: SIDE },
      },
      labels,
    },
  ];
}
