// torchvision's dataset files hold many images each, in their own layouts (channel planes, column-
// major MATLAB arrays, grey levels). They are read once into one store of packed RGB images, the
// layout PIL gives torchvision's images (grey converted to RGB, as PIL's convert('RGB') and VISSL's
// MNISTImgPil2RGB do), and each sample names its file and its place in it.
import { requireRegularFile } from '../../torch/io/file-bytes.js';
import type { Dataset, ImageStore, Sample } from '../datasets.js';

/** Images laid out in a byte array with the given steps between images, channels, rows and columns. */
export interface StridedImages {
  data: Uint8Array;
  count: number;
  height: number;
  width: number;
  /** 1: grey levels, copied to all three channels. */
  channels: 1 | 3;
  /** Bytes from one image, channel, row and column to the next. */
  strides: { image: number; channel: number; row: number; column: number };
}

/** One file's images and their labels (one per image). */
export interface ImageFile {
  path: string;
  images: StridedImages;
  labels: ArrayLike<number>;
}

function packInto(pixels: Uint8Array, at: number, images: StridedImages): void {
  const { data, count, height, width, channels, strides } = images;
  let out = at;
  for (let n = 0; n < count; n++) {
    for (let y = 0; y < height; y++) {
      const row = n * strides.image + y * strides.row;
      for (let x = 0; x < width; x++) {
        const pixel = row + x * strides.column;
        for (let c = 0; c < 3; c++) pixels[out++] = data[pixel + (channels === 1 ? 0 : c * strides.channel)]!;
      }
    }
  }
}

/** The files' images in one store (in file order) and a sample for each, labelled by its file. */
export function inMemoryDataset(files: readonly ImageFile[]): Dataset {
  const [first] = files;
  if (first === undefined) throw new Error('no image files to read');
  const { height, width } = first.images;
  const imageBytes = height * width * 3;
  const total = files.reduce((n, f) => n + f.images.count, 0);
  // Zero images would run every stage on nothing and exit 0.
  if (total === 0)
    throw new Error(
      `${files.map((f) => f.path).join(', ')}: no images (the ${files.length === 1 ? 'file holds' : 'files hold'} 0); ` +
        'the dataset files are empty or damaged: download them again',
    );
  const pixels = new Uint8Array(new SharedArrayBuffer(total * imageBytes));
  const samples: Sample[] = [];
  for (const { path, images, labels } of files) {
    if (images.height !== height || images.width !== width)
      throw new Error(`${path}: images of ${images.height}x${images.width}, the other files' are ${height}x${width}`);
    if (labels.length !== images.count)
      throw new Error(`${path}: ${labels.length} labels for ${images.count} images; the file is damaged`);
    packInto(pixels, samples.length * imageBytes, images);
    for (let i = 0; i < images.count; i++) {
      const index = samples.length;
      samples.push({ index, path: `${path}[${i}]`, label: labels[i]!, record: index });
    }
  }
  const store: ImageStore = { pixels, height, width };
  return { samples, store };
}

/**
 * Throws a one-line error naming the file torchvision's class `name` expects, the folder it reads
 * and how to get the files, unless the file is there.
 */
export function requireDatasetFile(path: string, name: string, root: string, url: string): void {
  try {
    requireRegularFile(path, `${name} file`);
  } catch (error) {
    throw new Error(
      `${(error as Error).message}; torchvision_dataset ${name} reads the files torchvision.datasets.${name}('${root}') reads ` +
        `(nothing is downloaded here): download them with torchvision.datasets.${name}('${root}', download=True) or from ${url}`,
      { cause: error },
    );
  }
}
