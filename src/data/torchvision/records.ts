// The pixels behind a torchvision_dataset sample's name, `<file>[<i>]` (the i-th image of one of
// torchvision's files), for tools that get only the names: the explorer's thumbnails of a run whose
// features were extracted from torchvision_dataset data. Which dataset and split a file belongs to
// follows from where torchvision keeps it (the readers' file lists), so no config is needed.
import { dirname } from 'node:path';
import type { Pixels } from '../image-addon.js';
import type { Dataset } from '../datasets.js';
import {
  TORCHVISION_DATASETS,
  torchvisionDataset,
  torchvisionImageFiles,
  type TorchvisionDatasetName,
} from './index.js';

const RECORD = /^(.*)\[(\d+)\]$/;

interface Split {
  name: TorchvisionDatasetName;
  root: string;
  train: boolean;
}

/**
 * The dataset, root folder and split whose reading gives `file`, or null for any other file. Asked
 * of the readers' own file lists, for the roots torchvision's layouts put one to three folders up.
 */
export function torchvisionSplitOf(file: string): Split | null {
  let root = dirname(file);
  for (let up = 0; up < 3; up++, root = dirname(root)) {
    for (const name of TORCHVISION_DATASETS) {
      for (const train of [true, false]) {
        if (torchvisionImageFiles(name, root, train).includes(file)) return { name, root, train };
      }
    }
  }
  return null;
}

/** Reads record names back into pixels, each split read once and kept (as torchvision keeps it). */
export class TorchvisionRecords {
  readonly #splits = new Map<string, { dataset: Dataset; byPath: Map<string, number> }>();

  /** Whether `path` names an image inside one of torchvision's files. */
  static isRecord(path: string): boolean {
    const match = RECORD.exec(path);
    return match !== null && torchvisionSplitOf(match[1] as string) !== null;
  }

  /** The record's packed RGB pixels; an error naming the path when it is not a record of a readable file. */
  pixels(path: string): Pixels {
    const match = RECORD.exec(path);
    const split = match ? torchvisionSplitOf(match[1] as string) : null;
    if (split === null) throw new Error(`${path} does not name an image inside one of torchvision's dataset files`);
    const key = `${split.name}\0${split.root}\0${split.train}`;
    let read = this.#splits.get(key);
    if (read === undefined) {
      const dataset = torchvisionDataset(split.name, split.root, split.train);
      read = { dataset, byPath: new Map(dataset.samples.map((s) => [s.path, s.record ?? s.index])) };
      this.#splits.set(key, read);
    }
    const record = read.byPath.get(path);
    const store = read.dataset.store;
    if (record === undefined || store === undefined)
      throw new Error(`${path}: the file holds no image ${match![2]} (it has ${read.byPath.size})`);
    const bytes = store.height * store.width * 3;
    return {
      data: store.pixels.subarray(record * bytes, (record + 1) * bytes),
      width: store.width,
      height: store.height,
    };
  }
}
