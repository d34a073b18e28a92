// Datasets: lists of samples (index, path, label). Sample indices mean the same as in torchvision's
// ImageFolder and VISSL's disk_filelist, so labels and features written by either line up.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy } from '../torch/io/index.js';

export interface Sample {
  readonly index: number;
  /** The image file; for an image held in the dataset's store, the file it was read from and its place there. */
  readonly path: string;
  readonly label: number;
  /**
   * Multi-label targets, when the labels file has one column per class (VOC07's {-1, 0, 1}: present,
   * absent, difficult); `label` is then -1. Only feature extraction carries them (to the SVM benchmark).
   */
  readonly targets?: readonly number[];
  /** The image's position in the dataset's store, for images held in memory. */
  readonly record?: number;
}

/**
 * Decoded images held in memory (torchvision's dataset files, which pack many images in one file),
 * all of one size. The pixels lie on a SharedArrayBuffer, so the loader's threads read them without a copy.
 */
export interface ImageStore {
  /** Packed 8-bit RGB (HWC) of every image, one after the other. */
  readonly pixels: Uint8Array;
  readonly height: number;
  readonly width: number;
}

export interface Dataset {
  readonly samples: readonly Sample[];
  /** Class names in label order, when the labels are classes (image folders). */
  readonly classes?: readonly string[];
  /** The images of samples with a `record`. */
  readonly store?: ImageStore;
}

/**
 * torchvision.datasets.folder.IMG_EXTENSIONS (0.14), matched case-insensitively as torchvision
 * does, less .ppm, .pgm and .bmp: the decoders here (TurboJPEG, libvips as sharp ships it) cannot
 * read those, and a listed file that can never load would fail every epoch. A folder holding them
 * therefore lists fewer images than torchvision's ImageFolder; convert them (to PNG) to use them.
 */
export const IMG_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.tif', '.tiff', '.webp'];

/**
 * Python's sorted() order on str: by code point. UTF-8 byte order is code point order, whereas
 * JS's default sort compares UTF-16 code units and differs above U+FFFF.
 */
export function pythonCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function isImageFile(name: string): boolean {
  const lower = name.toLowerCase();
  return IMG_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/** Every directory under `dir` (itself included) with its file names, as os.walk(followlinks=True). */
function walk(dir: string): { root: string; files: string[] }[] {
  const entries = readdirSync(dir, { withFileTypes: true });
  // A dangling link is a file here, as os.walk lists it: the loader then names it (or skips it).
  const isDir = (e: (typeof entries)[number]): boolean =>
    e.isDirectory() ||
    (e.isSymbolicLink() && statSync(join(dir, e.name), { throwIfNoEntry: false })?.isDirectory() === true);
  const here = { root: dir, files: entries.filter((e) => !isDir(e)).map((e) => e.name) };
  return [here, ...entries.filter(isDir).flatMap((e) => walk(join(dir, e.name)))];
}

/**
 * root/<class>/<...>/<image>, as torchvision.datasets.ImageFolder: classes are the sorted
 * sub-folder names, and within a class `sorted(os.walk(dir))` then `sorted(fnames)`.
 */
export function imageFolder(root: string): Dataset {
  let classes: string[];
  try {
    classes = readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory() || (e.isSymbolicLink() && statSync(join(root, e.name)).isDirectory()))
      .map((e) => e.name)
      .sort(pythonCompare);
  } catch (error) {
    throw new Error(`image folder ${root} cannot be read: ${(error as Error).message}`);
  }
  if (classes.length === 0)
    throw new Error(`image folder ${root} has no class sub-folders (expected root/<class>/<image>)`);
  const samples: Sample[] = [];
  classes.forEach((name, label) => {
    const dirs = walk(join(root, name)).sort((a, b) => pythonCompare(a.root, b.root));
    for (const { root: dir, files } of dirs) {
      for (const file of files.filter(isImageFile).sort(pythonCompare)) {
        samples.push({ index: samples.length, path: join(dir, file), label });
      }
    }
  });
  if (samples.length === 0)
    throw new Error(`image folder ${root} has no images with extensions ${IMG_EXTENSIONS.join(' ')}`);
  return { samples, classes };
}

const INTEGER_DTYPES = new Set(['int64', 'int32', 'int16', 'int8', 'uint8']);

/** A .npy that must hold one value per image: a 1-d array, or 2-d with one side of length 1. */
function readVector(path: string): number[] | string[] {
  const content = readNpy(path);
  if (Array.isArray(content)) return content;
  try {
    const { shape, dtype } = content;
    if (shape.length > 2 || shape.filter((n) => n !== 1).length > 1)
      throw new Error(`${path}: expected a 1-d array (or (n, 1)), found shape (${shape.join(', ')})`);
    if (!INTEGER_DTYPES.has(dtype))
      throw new Error(
        `${path}: labels must be integers (or strings), found ${dtype}; save them with np.int64 (or as np.array(names, dtype=str))`,
      );
    return content.toArray();
  } finally {
    content.dispose();
  }
}

/**
 * Labels from a .npy as VISSL reads them: integers as they are; strings mapped to the index of
 * their value among the sorted unique values.
 */
function readLabels(path: string): number[] {
  const values = readVector(path);
  if (typeof values[0] !== 'string') return values as number[];
  const names = values as string[];
  const ids = new Map([...new Set(names)].sort(pythonCompare).map((name, id) => [name, id]));
  return names.map((name) => ids.get(name) as number);
}

/**
 * VISSL's disk_filelist: a .npy of image paths and, optionally, a .npy of labels aligned with it.
 * Without labels the label is the sample index (VISSL's LABEL_TYPE sample_index).
 */
export function diskFilelist(imagesNpy: string, labelsNpy?: string): Dataset {
  const paths = readVector(imagesNpy);
  if (paths.length > 0 && typeof paths[0] !== 'string')
    throw new Error(
      `${imagesNpy}: expected an array of image paths (strings), found numbers; save it with np.array(paths, dtype=str)`,
    );
  const samples = (paths as string[]).map((path, index) => ({ index, path, label: index }));
  return labelsNpy === undefined ? { samples } : withLabels({ samples }, labelsNpy);
}

/** Rows of an N x C integer labels file with C > 1 (multi-label), or null for any other file. */
function readLabelRows(path: string): number[][] | null {
  const content = readNpy(path);
  if (Array.isArray(content)) return null;
  try {
    const { shape, dtype } = content;
    if (shape.length !== 2 || (shape[1] as number) < 2 || (shape[0] as number) < 2) return null;
    if (!INTEGER_DTYPES.has(dtype)) throw new Error(`${path}: multi-label targets must be integers, found ${dtype}`);
    const values = content.toArray();
    const columns = shape[1] as number;
    return Array.from({ length: shape[0] as number }, (_, r) => values.slice(r * columns, (r + 1) * columns));
  } finally {
    content.dispose();
  }
}

/**
 * The dataset with its labels replaced by those in a .npy (ClusterFit's cluster ids), or with
 * multi-label targets when the file is N x C (VOC07's, as VISSL's disk_filelist reads them).
 */
export function withLabels(dataset: Dataset, labelsNpy: string): Dataset {
  const rows = readLabelRows(labelsNpy);
  if (rows !== null) {
    if (rows.length !== dataset.samples.length) {
      throw new Error(
        `${labelsNpy} has ${rows.length} rows of targets but the dataset has ${dataset.samples.length} images; ` +
          `the targets must be aligned with the image list (one row per image, same order)`,
      );
    }
    return {
      samples: dataset.samples.map((s, i) => ({ ...s, label: -1, targets: rows[i] as number[] })),
      ...(dataset.store ? { store: dataset.store } : {}),
    };
  }
  const labels = readLabels(labelsNpy);
  if (labels.length !== dataset.samples.length) {
    throw new Error(
      `${labelsNpy} has ${labels.length} labels but the dataset has ${dataset.samples.length} images; ` +
        `the labels must be aligned with the image list (one per image, same order)`,
    );
  }
  return relabel(dataset, (_, i) => labels[i] as number);
}

/** The dataset with other labels: its classes no longer name them; its images stay where they are. */
export function relabel(dataset: Dataset, labelOf: (sample: Sample, i: number) => number): Dataset {
  return {
    samples: dataset.samples.map((s, i) => ({ ...s, label: labelOf(s, i) })),
    ...(dataset.store ? { store: dataset.store } : {}),
  };
}
