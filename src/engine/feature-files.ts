// Extracted features on disk, in VISSL's file layout so VISSL's ExtractedFeaturesLoader and numpy
// read them too: per shard `{prefix}_{split}_{layer}_features.npy` (float32, N x D), `_inds.npy`
// (dataset indices, int64), `_targets.npy` (labels, int64 N x 1; N x C for multi-label datasets such
// as VOC07), plus our `_images.npy` (image
// paths), with prefix `rank{R}_chunk{C}`. Shards are written streaming, so memory stays at one
// batch whatever the dataset size; a new chunk starts every CHUNK_THRESHOLD rows when it is set.
// Reading merges the shards into dataset-index order, and can read just one block of that order
// (one rank's share), touching no other feature row.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { empty, indexCopy_, itemSize, tensor, tidy, type Tensor } from '../torch/index.js';
import { NpyReader, NpyWriter, writeNpy } from '../torch/io/index.js';

export interface FeatureShard {
  prefix: string;
  features: string;
  inds: string;
  targets: string;
  images: string;
}

function shardFiles(dir: string, prefix: string, split: string, layer: string): FeatureShard {
  const base = join(dir, `${prefix}_${split}_${layer}`);
  return {
    prefix,
    features: `${base}_features.npy`,
    inds: `${base}_inds.npy`,
    targets: `${base}_targets.npy`,
    images: `${base}_images.npy`,
  };
}

/** Streams one layer's features of one split into shard files. */
export class FeatureShardWriter {
  readonly written: FeatureShard[] = [];
  #chunk = 0;
  #features: NpyWriter | null = null;
  #inds: number[] = [];
  #targets: number[] = [];
  /** Values per target row: 1 for labels, C for multi-label targets. */
  #targetWidth = 1;
  #images: string[] = [];

  constructor(
    readonly dir: string,
    readonly split: string,
    readonly layer: string,
    /** Rows per chunk file; <= 0: one file. */
    readonly chunkThreshold = -1,
    readonly rank = 0,
  ) {}

  /**
   * Appends a batch: features N x ..., with each row's dataset index, label (or multi-label targets
   * row) and image path.
   */
  append(
    features: Tensor,
    indices: ArrayLike<number>,
    labels: ArrayLike<number> | readonly (readonly number[])[],
    paths: readonly string[],
  ): void {
    if (this.#features === null) {
      const files = shardFiles(this.dir, `rank${this.rank}_chunk${this.#chunk}`, this.split, this.layer);
      this.#features = new NpyWriter(files.features, 'float32', features.shape.slice(1));
    }
    tidy(() => this.#features?.append(features.to('float32').to('cpu')));
    this.#inds.push(...Array.from(indices));
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i] as number | readonly number[];
      const row = typeof label === 'number' ? [label] : label;
      if (this.#targets.length > 0 && row.length !== this.#targetWidth)
        throw new Error(`targets of ${row.length} values among rows of ${this.#targetWidth}`);
      this.#targetWidth = row.length;
      this.#targets.push(...row);
    }
    this.#images.push(...paths);
    if (this.chunkThreshold > 0 && this.#inds.length >= this.chunkThreshold) this.#finishChunk();
  }

  /** Completes the last shard; returns every shard written. */
  close(): FeatureShard[] {
    if (this.#features !== null) this.#finishChunk();
    return this.written;
  }

  /** Abandons the shard in progress (completed shards stay). */
  abort(): void {
    this.#features?.abort();
    this.#features = null;
  }

  #finishChunk(): void {
    const files = shardFiles(this.dir, `rank${this.rank}_chunk${this.#chunk}`, this.split, this.layer);
    tidy(() => {
      writeNpy(files.inds, tensor(this.#inds, { dtype: 'int64' }));
      writeNpy(files.targets, tensor(this.#targets, { dtype: 'int64' }).reshape(-1, this.#targetWidth));
    });
    writeNpy(files.images, this.#images);
    // The features file appears last: a shard with features is complete.
    this.#features?.close();
    this.written.push(files);
    this.#features = null;
    this.#inds = [];
    this.#targets = [];
    this.#images = [];
    this.#chunk += 1;
  }
}

/**
 * Removes the shards of (split, layer) that ranks `worldSize` and above left in `dir` in an earlier
 * extraction with more ranks: they are not rewritten now, and loadFeatures would merge their rows.
 */
export function removeShardsOfRanksFrom(dir: string, split: string, layer: string, worldSize: number): void {
  if (!existsSync(dir)) return;
  const pattern = new RegExp(`^rank(\\d+)_chunk\\d+_${split}_${layer}_(features|inds|targets|images)\\.npy$`);
  for (const name of readdirSync(dir)) {
    const match = pattern.exec(name);
    if (match && Number(match[1]) >= worldSize) rmSync(join(dir, name));
  }
}

/**
 * The shards of (split, layer) in `dir`, sorted by prefix as VISSL's get_shard_file_names does. A
 * missing folder or no shard is an error that says what was looked for.
 */
export function findFeatureShards(dir: string, split: string, layer: string): FeatureShard[] {
  if (!existsSync(dir)) throw new Error(`feature folder ${dir} does not exist (run the extract step first)`);
  const suffix = `_${split}_${layer}_features.npy`;
  const prefixes = readdirSync(dir)
    .filter((name) => name.endsWith(suffix))
    .map((name) => name.slice(0, -suffix.length))
    .sort();
  if (prefixes.length === 0) {
    const present = readdirSync(dir).filter((name) => name.endsWith('_features.npy'));
    throw new Error(
      `no '*${suffix}' in ${dir}` +
        (present.length > 0 ? `; found: ${present.slice(0, 6).join(', ')}` : ' (no feature files at all)') +
        ` — check FEATURES.LAYER_NAME and the split`,
    );
  }
  return prefixes.map((prefix) => shardFiles(dir, prefix, split, layer));
}

/** The layers with `split` features in a folder of shards, sorted (none: an empty list). */
export function featureLayers(dir: string, split: string): string[] {
  if (!existsSync(dir)) return [];
  const pattern = new RegExp(`^rank\\d+_chunk\\d+_${split}_(.+)_features\\.npy$`);
  const layers = new Set<string>();
  for (const name of readdirSync(dir)) {
    const match = pattern.exec(name);
    if (match) layers.add(match[1]!);
  }
  return [...layers].sort();
}

export interface LoadedFeatures {
  /**
   * Rows [rows[0], rows[1]) of the merged order (all of them unless asked otherwise), flattened to
   * (rows[1] - rows[0]) x D, float32.
   */
  features: Tensor;
  /** The rows of the merged order `features` holds, [start, end) of `indices.length`. */
  rows: [number, number];
  /** The N dataset indices of the whole split, ascending (duplicates, i.e. sampler padding, removed). */
  indices: number[];
  /** The N labels of the whole split, in `indices`' order (the first column of multi-label targets). */
  targets: number[];
  /**
   * Every target column: N x `targetColumns`, row-major. One column for single-label datasets;
   * VOC07's multi-label targets (VISSL's {-1, 0, 1} per class) have one per class.
   */
  targetMatrix: Int32Array;
  targetColumns: number;
  /** Image path per row of the whole split, when the shards have them. */
  images: string[] | null;
}

export interface LoadFeaturesOptions {
  /** The block of the merged order to read, given the number of rows N (default: all of them). */
  rows?: (n: number) => readonly [number, number];
  /** Told of every read of feature rows from a file: rows [start, end) of `file`. */
  onRead?: (file: string, start: number, end: number) => void;
}

/** Feature rows read at once (a run of wanted rows longer than this is read in pieces). */
const READ_BUDGET_BYTES = 64 * 1024 * 1024;

/** Where each row of the merged order lives: shard and row of the first occurrence of its index. */
interface MergedIndex {
  indices: number[];
  shard: Int32Array;
  row: Int32Array;
  targets: number[];
  targetMatrix: Int32Array;
  targetColumns: number;
  images: string[] | null;
}

function mergeIndices(shards: FeatureShard[]): MergedIndex {
  // Dataset index -> its entry in the lists below; the first occurrence wins, as in VISSL.
  const entryOf = new Map<number, number>();
  const shardOf: number[] = [];
  const rowOf: number[] = [];
  const targetRows: number[][] = [];
  const images: string[] = [];
  let haveImages = true;
  let columns = -1;
  shards.forEach((shard, s) => {
    const inds = readIntColumn(shard.inds);
    const labels = readIntRows(shard.targets);
    if (columns >= 0 && labels.columns !== columns) {
      throw new Error(
        `${shard.targets} has ${labels.columns} target columns but ${shards[0]?.targets} has ${columns}: the shards are of different extractions`,
      );
    }
    columns = labels.columns;
    const paths = existsSync(shard.images) ? readStrings(shard.images) : null;
    haveImages &&= paths !== null;
    inds.forEach((index, row) => {
      if (entryOf.has(index)) return;
      entryOf.set(index, shardOf.length);
      shardOf.push(s);
      rowOf.push(row);
      targetRows.push(labels.values.slice(row * columns, (row + 1) * columns));
      if (paths) images.push(paths[row] as string);
    });
  });
  const indices = [...entryOf.keys()].sort((a, b) => a - b);
  const entries = indices.map((i) => entryOf.get(i) as number);
  const width = Math.max(columns, 1);
  const targetMatrix = new Int32Array(entries.length * width);
  entries.forEach((e, p) => targetMatrix.set(targetRows[e] as number[], p * width));
  return {
    indices,
    shard: Int32Array.from(entries, (e) => shardOf[e] as number),
    row: Int32Array.from(entries, (e) => rowOf[e] as number),
    targets: entries.map((e) => (targetRows[e] as number[])[0] as number),
    targetMatrix,
    targetColumns: width,
    images: haveImages ? entries.map((e) => images[e] as string) : null,
  };
}

/**
 * The feature rows at merged positions [start, end), read from the shards with positioned reads
 * of just those rows: each shard's wanted rows are read in runs of consecutive file rows and
 * scattered into place, so memory is the block plus one read, whatever the size of the files.
 */
function readFeatureRows(
  shards: FeatureShard[],
  merged: MergedIndex,
  start: number,
  end: number,
  onRead?: LoadFeaturesOptions['onRead'],
): Tensor {
  const wanted = shards.map(() => [] as number[]);
  for (let p = start; p < end; p++) wanted[merged.shard[p] as number]?.push(p);
  const readers = shards.map((shard) => new NpyReader(shard.features));
  try {
    const element = readers[0]?.header.element;
    const dtype = element !== undefined && 'dtype' in element ? element.dtype : 'float32';
    const width = (reader: NpyReader): number => reader.rowShape.reduce((a, b) => a * b, 1);
    const d = width(readers[0] as NpyReader);
    const runRows = Math.max(1, Math.floor(READ_BUDGET_BYTES / (itemSize(dtype) * d)));
    return tidy(() => {
      const out = empty([end - start, d], { dtype });
      readers.forEach((reader, s) => {
        if (width(reader) !== d) {
          throw new Error(
            `${reader.path} holds ${width(reader)} values per row but ${readers[0]?.path} holds ${d}: the shards are of different extractions`,
          );
        }
        const positions = (wanted[s] as number[]).sort((a, b) => (merged.row[a] as number) - (merged.row[b] as number));
        for (let first = 0; first < positions.length;) {
          const firstRow = merged.row[positions[first] as number] as number;
          let last = first + 1;
          while (
            last < positions.length &&
            last - first < runRows &&
            merged.row[positions[last] as number] === firstRow + (last - first)
          )
            last++;
          onRead?.(reader.path, firstRow, firstRow + (last - first));
          tidy(() => {
            const rows = reader.read(firstRow, firstRow + (last - first));
            const at = tensor(
              positions.slice(first, last).map((p) => p - start),
              { dtype: 'int64' },
            );
            indexCopy_(out, 0, at, rows.reshape(last - first, -1));
          });
          first = last;
        }
      });
      return out;
    });
  } finally {
    readers.forEach((reader) => reader.close());
  }
}

/**
 * The rows of (split, layer) merged: deduplicated by dataset index and sorted by it (what VISSL's
 * load_features does), flattened to N x D. With `options.rows`, only that block of the merged
 * order is read from the feature files (the small index, label and path files are read whole), so
 * each of several ranks can hold just its share of a split larger than one machine's memory.
 */
export function loadFeatures(
  dir: string,
  split: string,
  layer: string,
  options: LoadFeaturesOptions = {},
): LoadedFeatures {
  const shards = findFeatureShards(dir, split, layer);
  const merged = mergeIndices(shards);
  const n = merged.indices.length;
  const [start, end] = options.rows?.(n) ?? [0, n];
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= n))
    throw new RangeError(`rows [${start}, ${end}) are out of range for the ${n} ${split} features in ${dir}`);
  return {
    features: readFeatureRows(shards, merged, start, end, options.onRead),
    rows: [start, end],
    indices: merged.indices,
    targets: merged.targets,
    targetMatrix: merged.targetMatrix,
    targetColumns: merged.targetColumns,
    images: merged.images,
  };
}

function readIntColumn(path: string): number[] {
  const reader = new NpyReader(path);
  try {
    return tidy(() => reader.read().reshape(-1).toArray());
  } finally {
    reader.close();
  }
}

/** An N x C (or N) integer file as its column count and row-major values. */
function readIntRows(path: string): { columns: number; values: number[] } {
  const reader = new NpyReader(path);
  try {
    const columns = reader.rowShape.reduce((a, b) => a * b, 1);
    return { columns, values: tidy(() => reader.read().reshape(-1).toArray()) };
  } finally {
    reader.close();
  }
}

function readStrings(path: string): string[] {
  const reader = new NpyReader(path);
  try {
    return reader.readStrings();
  } finally {
    reader.close();
  }
}
