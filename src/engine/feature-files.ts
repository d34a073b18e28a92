// Extracted features on disk, in VISSL's file layout so VISSL's ExtractedFeaturesLoader and numpy
// read them too: per shard `{prefix}_{split}_{layer}_features.npy` (float32, N x D), `_inds.npy`
// (dataset indices, int64), `_targets.npy` (labels, int64 N x 1), plus our `_images.npy` (image
// paths), with prefix `rank{R}_chunk{C}`. Shards are written streaming, so memory stays at one
// batch whatever the dataset size; a new chunk starts every CHUNK_THRESHOLD rows when it is set.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cat, tensor, tidy, type Tensor } from '../torch/index.js';
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
  #images: string[] = [];

  constructor(
    readonly dir: string,
    readonly split: string,
    readonly layer: string,
    /** Rows per chunk file; <= 0: one file. */
    readonly chunkThreshold = -1,
    readonly rank = 0,
  ) {}

  /** Appends a batch: features N x ..., with each row's dataset index, label and image path. */
  append(features: Tensor, indices: ArrayLike<number>, labels: ArrayLike<number>, paths: readonly string[]): void {
    if (this.#features === null) {
      const files = shardFiles(this.dir, `rank${this.rank}_chunk${this.#chunk}`, this.split, this.layer);
      this.#features = new NpyWriter(files.features, 'float32', features.shape.slice(1));
    }
    tidy(() => this.#features?.append(features.to('float32').to('cpu')));
    this.#inds.push(...Array.from(indices));
    this.#targets.push(...Array.from(labels));
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
      writeNpy(files.targets, tensor(this.#targets, { dtype: 'int64' }).reshape(-1, 1));
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

export interface LoadedFeatures {
  /** N x D float32, rows sorted by dataset index, duplicates (sampler padding) removed. */
  features: Tensor;
  /** N dataset indices, ascending. */
  indices: number[];
  targets: number[];
  /** Image path per row, when the shards have them. */
  images: string[] | null;
}

/**
 * All rows of (split, layer) merged: deduplicated by dataset index and sorted by it (what VISSL's
 * load_features does), flattened to N x D.
 */
export function loadFeatures(dir: string, split: string, layer: string): LoadedFeatures {
  const shards = findFeatureShards(dir, split, layer);
  const rowOf = new Map<number, { shard: number; row: number }>();
  const targets = new Map<number, number>();
  const images = new Map<number, string>();
  let haveImages = true;
  shards.forEach((shard, s) => {
    const inds = readIntColumn(shard.inds);
    const labels = readIntColumn(shard.targets);
    const paths = existsSync(shard.images) ? readStrings(shard.images) : null;
    haveImages &&= paths !== null;
    inds.forEach((index, row) => {
      if (rowOf.has(index)) return;
      rowOf.set(index, { shard: s, row });
      targets.set(index, labels[row] as number);
      if (paths) images.set(index, paths[row] as string);
    });
  });
  const indices = [...rowOf.keys()].sort((a, b) => a - b);
  const features = tidy(() => {
    const parts = shards.map((shard, s) => {
      const reader = new NpyReader(shard.features);
      try {
        const all = reader.read();
        const rows = indices.filter((i) => rowOf.get(i)?.shard === s).map((i) => rowOf.get(i)?.row as number);
        return all.reshape(all.shape[0] as number, -1).indexSelect(0, tensor(rows, { dtype: 'int64' }));
      } finally {
        reader.close();
      }
    });
    // Rows per shard are in index order within the shard; restore the global index order.
    const stacked = cat(parts, 0);
    const shardOrder = shards.flatMap((_, s) => indices.filter((i) => rowOf.get(i)?.shard === s));
    const position = new Map(shardOrder.map((index, p) => [index, p]));
    return stacked.indexSelect(
      0,
      tensor(
        indices.map((i) => position.get(i) as number),
        { dtype: 'int64' },
      ),
    );
  });
  return {
    features,
    indices,
    targets: indices.map((i) => targets.get(i) as number),
    images: haveImages ? indices.map((i) => images.get(i) as string) : null,
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

function readStrings(path: string): string[] {
  const reader = new NpyReader(path);
  try {
    return reader.readStrings();
  } finally {
    reader.close();
  }
}
