// MNIST as torchvision reads it: <root>/MNIST/raw/{train,t10k}-images-idx3-ubyte and
// -labels-idx1-ubyte, in LeCun's idx format (a big-endian magic of 0, 0, type, dimensions, then
// each dimension's size as a big-endian uint32, then the values). Images are 28x28 grey levels,
// which PIL's convert('RGB') (VISSL's MNISTImgPil2RGB) copies to three channels. torchvision reads
// the unpacked files only; here a file missing unpacked is read from its .gz (as downloaded) instead.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateBounded, inflateHead } from './inflate.js';
import { requireDatasetFile, type ImageFile } from './store.js';

const UNSIGNED_BYTE = 0x08;
const URL = 'https://ossci-datasets.s3.amazonaws.com/mnist/';

/** An idx header: the dimensions, and how many bytes the header and the values take. */
function idxHeader(bytes: Buffer, path: string, dimensions: number): { shape: number[]; header: number; size: number } {
  const header = 4 + 4 * dimensions;
  if (bytes.length < header || bytes[0] !== 0 || bytes[1] !== 0)
    throw new Error(`${path}: not an idx file (it does not start with the idx magic 00 00)`);
  if (bytes[2] !== UNSIGNED_BYTE || bytes[3] !== dimensions) {
    throw new Error(
      `${path}: an idx file of type 0x${bytes[2]!.toString(16)} with ${bytes[3]} dimensions, ` +
        `where torchvision's MNIST expects unsigned bytes (0x08) with ${dimensions}`,
    );
  }
  const shape = Array.from({ length: dimensions }, (_, i) => bytes.readUInt32BE(4 + 4 * i));
  return { shape, header, size: shape.reduce((a, b) => a * b, 1) };
}

/**
 * The bytes of an idx file; a .gz is inflated no further than its header (read from the first
 * bytes inflated) says the file holds.
 */
function idxBytes(path: string, dimensions: number): Buffer {
  if (!path.endsWith('.gz')) return readFileSync(path);
  const compressed = readFileSync(path);
  const head = inflateHead(compressed, 'gzip', 4 + 4 * dimensions, path);
  const { header, size } = idxHeader(head, path, dimensions);
  return inflateBounded(compressed, 'gzip', header + size, path);
}

/** An idx file of unsigned bytes: its dimensions and values. */
function readIdx(path: string, dimensions: number): { shape: number[]; values: Uint8Array } {
  const bytes = idxBytes(path, dimensions);
  const { shape, header, size } = idxHeader(bytes, path, dimensions);
  if (bytes.length - header !== size) {
    throw new Error(
      `${path}: the header declares ${shape.join(' x ')} = ${size} values but the file holds ${bytes.length - header}; the file is damaged`,
    );
  }
  return { shape, values: bytes.subarray(header) };
}

/** The unpacked file, else its .gz. */
function fileOf(raw: string, root: string): string {
  // existsSync follows links: a .gz linked to a device or a FIFO is refused below, not read.
  const file = !existsSync(raw) && existsSync(`${raw}.gz`) ? `${raw}.gz` : raw;
  requireDatasetFile(file, 'MNIST', root, URL);
  return file;
}

function prefixOf(root: string, train: boolean): string {
  return join(root, 'MNIST', 'raw', train ? 'train' : 't10k');
}

/** The image files MNIST's split may be read from under `root`: unpacked, or its .gz. */
export function mnistImageFiles(root: string, train: boolean): string[] {
  const images = `${prefixOf(root, train)}-images-idx3-ubyte`;
  return [images, `${images}.gz`];
}

/** MNIST's train (60,000) or test (10,000) images under `root`. */
export function readMnist(root: string, train: boolean): ImageFile[] {
  const prefix = prefixOf(root, train);
  const imagesPath = fileOf(`${prefix}-images-idx3-ubyte`, root);
  const labelsPath = fileOf(`${prefix}-labels-idx1-ubyte`, root);
  const images = readIdx(imagesPath, 3);
  const labels = readIdx(labelsPath, 1);
  const [count, height, width] = images.shape as [number, number, number];
  if (labels.shape[0] !== count)
    throw new Error(`${labelsPath} has ${labels.shape[0]} labels but ${imagesPath} has ${count} images`);
  return [
    {
      path: imagesPath,
      images: {
        data: images.values,
        count,
        height,
        width,
        channels: 1,
        strides: { image: height * width, channel: 0, row: width, column: 1 },
      },
      labels: labels.values,
    },
  ];
}
