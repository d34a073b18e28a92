// One clustering of a run (a `cluster_features` output: `<prefix>_summary.json` beside its labels,
// distances, images and centroids), indexed for browsing: members of every cluster (nearest to the
// centroid first), ground-truth classes when the images sit in class folders, scores against them,
// and nearest neighbours in feature space. Built to stay quick at ImageNet scale (1.28M images, 16,000
// clusters): the index is typed arrays, image paths are read from the .npy one at a time when shown,
// features are loaded only when a neighbour search is first asked for.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { l2Normalize } from '../cluster/index.js';
import { findFeatureShards, loadFeatures, type FeatureShard } from '../engine/feature-files.js';
import { all, arange, keep, maxDim, tensor, tidy, topk, type Tensor } from '../torch/index.js';
import { NpyReader, readNpy } from '../torch/io/index.js';
import { clusterStats, type ClusterStats } from '../tasks/cluster.js';
import { breakNearTies, nearTieTolerance } from './near-ties.js';
import { clusterScores, contingency, type ClusterScores } from './scores.js';

// Candidates fetched beyond the k asked for, so that a run of near ties at the k-th neighbour
// usually ends inside the first top-k (one matrix product per batch).
const TIE_MARGIN = 8;

export interface ClusteringInfo {
  id: string;
  /** Folder of the clustering, relative to the run folder. */
  folder: string;
  numClusters: number;
  images: number;
  dim: number;
  layer: string;
  objective: number[];
  sizes: number[];
  stats: ClusterStats;
  /** Class names when the images sit in class folders (root/<class>/<image>), else empty. */
  classes: string[];
  scores: ClusterScores | null;
  /** Why neighbour search is unavailable, or null when it works. */
  neighboursUnavailable: string | null;
}

export interface Tile {
  cluster: number;
  size: number;
  /** Share of the cluster's images in its most common class (null without classes). */
  purity: number | null;
  majority: string | null;
  /** Mean distance of its images to its centroid (the cluster stage's distances): near 0 for a
   * degenerate cluster of near-identical features. */
  spread: number;
  /** Image indices: the ones nearest the centroid first, then a random sample of the rest. */
  images: number[];
}

export type SortKey = 'size' | 'purity' | 'spread' | 'id';
export const SORT_KEYS: readonly SortKey[] = ['size', 'purity', 'spread', 'id'];
/** The sorts a minimum cluster size applies to (page's `minSize`). */
export const MIN_SIZE_SORTS: readonly SortKey[] = ['purity', 'spread'];

export interface NeighbourAnswer {
  index: number;
  cluster: number;
  className: string | null;
  neighbours: Neighbour[];
}

export interface Neighbour {
  index: number;
  cluster: number;
  /** Squared L2 distance between the L2-normalised features. */
  distance: number;
  className: string | null;
}

/** A clustering's summary, its numbers checked: a damaged file is named, not a page that fails later. */
function readSummary(file: string): { numClusters: number; dim: number; objective: number[] } {
  let summary: { numClusters?: unknown; dim?: unknown; objective?: unknown } | null;
  try {
    summary = JSON.parse(readFileSync(file, 'utf8')) as typeof summary;
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${(error as Error).message}); the file is damaged`, { cause: error });
  }
  const positive = (key: 'numClusters' | 'dim'): number => {
    const value = summary?.[key];
    if (!Number.isSafeInteger(value) || (value as number) < 1)
      throw new Error(`${file}: ${key} is ${JSON.stringify(value)}, not a positive integer; the file is damaged`);
    return value as number;
  };
  const objective = Array.isArray(summary?.objective) ? summary.objective.filter((v) => typeof v === 'number') : [];
  return { numClusters: positive('numClusters'), dim: positive('dim'), objective };
}

/** A numeric .npy file (a list of strings there is a damaged run folder). */
function readNumbers(path: string): Tensor {
  const read = readNpy(path);
  if (Array.isArray(read)) throw new Error(`${path} holds strings where numbers belong; the file is damaged`);
  return read;
}

function lcg(seed: number): () => number {
  let s = (seed * 2654435761) >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  };
}

interface FeatureSource {
  dir: string;
  split: string;
  layer: string;
}

export class Clustering {
  readonly info: ClusteringInfo;
  readonly labels: Int32Array;
  readonly #distances: Float32Array;
  /** Per cluster: the mean distance of its images to its centroid. */
  readonly #spread: Float64Array;
  /** Members of cluster k are #members[#offsets[k] .. #offsets[k+1]). */
  readonly #offsets: Int32Array;
  readonly #members: Int32Array;
  readonly #sorted: Uint8Array;
  readonly #classIds: Int32Array | null;
  readonly #purity: Float64Array | null;
  readonly #majority: Int32Array | null;
  readonly #orders = new Map<SortKey, Int32Array>();
  readonly #images: NpyReader;
  readonly #features: FeatureSource | null;
  #normalised: Tensor | null = null;

  /** `summaryFile`: a clustering's `<prefix>_summary.json`; `runRoot`: the run folder. */
  constructor(summaryFile: string, runRoot: string) {
    const dir = dirname(summaryFile);
    const prefix = summaryFile.slice(0, -'_summary.json'.length);
    const summary = readSummary(summaryFile);
    const k = summary.numClusters;
    const labelsTensor = readNumbers(`${prefix}_labels.npy`);
    this.labels = tidy(() => labelsTensor.to('int32').data() as Int32Array);
    const n = this.labels.length;
    // Sizes from the files are checked before anything is allocated from them: a summary claiming
    // a billion clusters must not become a billion-entry index.
    if (k > n) {
      labelsTensor.dispose();
      throw new Error(
        `${summaryFile}: numClusters is ${k}, but ${prefix}_labels.npy labels ${n} images (at most one cluster per image); the files do not belong together or are damaged`,
      );
    }
    const outside = this.labels.findIndex((label) => !(label >= 0 && label < k));
    if (outside >= 0) {
      labelsTensor.dispose();
      throw new Error(
        `${prefix}_labels.npy: image ${outside} has label ${this.labels[outside]}, outside the summary's ${k} clusters (0..${k - 1}); the files do not belong together or are damaged`,
      );
    }
    const distances = readNumbers(`${prefix}_distances.npy`);
    this.#distances = tidy(() => distances.to('float32').data() as Float32Array);
    distances.dispose();
    if (this.#distances.length !== n) {
      labelsTensor.dispose();
      throw new Error(
        `${prefix}_distances.npy holds ${this.#distances.length} distances for the ${n} labels of ${prefix}_labels.npy; the files do not belong together or are damaged`,
      );
    }
    // Counting sort of the images by cluster: one pass, typed arrays.
    this.#offsets = new Int32Array(k + 1);
    for (const label of this.labels) (this.#offsets[label + 1] as number)++;
    for (let c = 0; c < k; c++) this.#offsets[c + 1] = (this.#offsets[c + 1] as number) + (this.#offsets[c] as number);
    this.#members = new Int32Array(n);
    const fill = this.#offsets.slice(0, k);
    this.labels.forEach((label, i) => {
      this.#members[fill[label] as number] = i;
      fill[label] = (fill[label] as number) + 1;
    });
    this.#sorted = new Uint8Array(k);
    const sizes = Array.from({ length: k }, (_, c) => (this.#offsets[c + 1] as number) - (this.#offsets[c] as number));
    this.#spread = new Float64Array(k);
    this.labels.forEach(
      (label, i) => (this.#spread[label] = (this.#spread[label] as number) + (this.#distances[i] as number)),
    );
    for (let c = 0; c < k; c++) this.#spread[c] = sizes[c] ? (this.#spread[c] as number) / (sizes[c] as number) : 0;

    this.#images = new NpyReader(`${prefix}_images.npy`);
    if (this.#images.rows !== n) {
      this.#images.close();
      labelsTensor.dispose();
      throw new Error(
        `${prefix}_images.npy lists ${this.#images.rows} images for the ${n} labels of ${prefix}_labels.npy; the files do not belong together or are damaged`,
      );
    }
    const { names, ids } = this.#readClasses();
    let scores: ClusterScores | null = null;
    if (ids !== null) {
      this.#classIds = ids;
      // The class-id tensor is freed with the scope; the table is returned, so it stays.
      const table = tidy(() => contingency(labelsTensor, tensor(ids, { dtype: 'int32' }), k, names.length));
      scores = clusterScores(table);
      const best = tidy(() => {
        const { values, indices } = maxDim(table, 1);
        return { values: values.toArray(), indices: indices.toArray() };
      });
      table.dispose();
      this.#purity = Float64Array.from(best.values, (v, c) => (sizes[c] ? v / (sizes[c] as number) : 0));
      this.#majority = Int32Array.from(best.indices);
    } else {
      this.#classIds = null;
      this.#purity = null;
      this.#majority = null;
    }
    labelsTensor.dispose();
    this.#features = this.#featureSource(dir);
    const id = basename(prefix);
    this.info = {
      id,
      folder: relativeTo(runRoot, dir),
      numClusters: k,
      images: n,
      dim: summary.dim,
      layer: this.#features?.layer ?? '',
      objective: summary.objective,
      sizes,
      stats: clusterStats(sizes),
      classes: ids !== null ? names : [],
      scores,
      neighboursUnavailable:
        this.#features === null ? `no features found for ${id} (cluster_config.yaml's CLUSTERFIT.FEATURES.PATH)` : null,
    };
  }

  /** The image file of an image index. */
  imagePath(index: number): string {
    this.#checkImage(index);
    return this.#images.readStrings(index, index + 1)[0] as string;
  }

  className(index: number): string | null {
    return this.#classIds === null ? null : (this.info.classes[this.#classIds[index] as number] ?? null);
  }

  /**
   * One page of tiles: clusters in the order asked, `perTile` images each. Sorted by purity or
   * spread, clusters under `minSize` images come after all the others (in the same order among
   * themselves): a 4-image cluster is pure or tight by chance, not a finding. `below` counts them.
   */
  page(options: {
    sort?: SortKey;
    descending?: boolean;
    offset?: number;
    limit?: number;
    perTile?: number;
    minSize?: number;
  }): {
    total: number;
    below: number;
    tiles: Tile[];
  } {
    const { sort = 'size', descending = true, offset = 0, limit = 24, perTile = 8, minSize = 0 } = options;
    if (sort === 'purity' && this.#purity === null) throw new Error('this clustering has no classes to sort by purity');
    const order = this.#order(sort);
    const k = this.info.numClusters;
    let ranked = Array.from({ length: k }, (_, p) => order[descending ? k - 1 - p : p] as number);
    let below = 0;
    if (MIN_SIZE_SORTS.includes(sort) && minSize > 0) {
      const small = (c: number): boolean => (this.info.sizes[c] as number) < minSize;
      const under = ranked.filter(small);
      below = under.length;
      ranked = [...ranked.filter((c) => !small(c)), ...under];
    }
    const tiles = ranked.slice(Math.max(0, offset), Math.max(0, offset + limit)).map((c) => this.tile(c, perTile));
    return { total: k, below, tiles };
  }

  tile(cluster: number, perTile: number): Tile {
    const members = this.#membersByDistance(cluster);
    const nearest = Math.min(members.length, Math.ceil(perTile / 2));
    const images = Array.from(members.subarray(0, nearest));
    // The rest: a random sample of the other members, the same every time for this cluster.
    const random = lcg(cluster + 1);
    const rest = members.length - nearest;
    const want = Math.min(rest, perTile - nearest);
    const picked = new Set<number>();
    while (picked.size < want) picked.add(nearest + Math.floor(random() * rest));
    for (const at of [...picked].sort((a, b) => a - b)) images.push(members[at] as number);
    const majority = this.#majority?.[cluster];
    return {
      cluster,
      size: members.length,
      purity: this.#purity ? (this.#purity[cluster] as number) : null,
      majority: majority === undefined || members.length === 0 ? null : (this.info.classes[majority] ?? null),
      spread: this.#spread[cluster] as number,
      images,
    };
  }

  /** Class counts of the given clusters, over the classes present in them (most common first, at most `maxClasses`). */
  heatmap(clusters: number[], maxClasses = 40): { classes: string[]; rows: { cluster: number; counts: number[] }[] } {
    if (this.#classIds === null) return { classes: [], rows: [] };
    const totals = new Map<number, number>();
    const perCluster = clusters.map((cluster) => {
      this.#checkCluster(cluster);
      const counts = new Map<number, number>();
      for (const image of this.#membersOf(cluster)) {
        const c = this.#classIds?.[image] as number;
        counts.set(c, (counts.get(c) ?? 0) + 1);
        totals.set(c, (totals.get(c) ?? 0) + 1);
      }
      return { cluster, counts };
    });
    const columns = [...totals.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, maxClasses)
      .map(([c]) => c);
    return {
      classes: columns.map((c) => this.info.classes[c] as string),
      rows: perCluster.map(({ cluster, counts }) => ({ cluster, counts: columns.map((c) => counts.get(c) ?? 0) })),
    };
  }

  /** The `k` images nearest to `index` in feature space (cosine on L2-normalised features), itself excluded. */
  neighbours(index: number, k = 12): NeighbourAnswer {
    return this.neighboursOfMany([index], k)[0] as NeighbourAnswer;
  }

  /**
   * `neighbours` for many images at once: one matrix product and one top-k per batch of 64 queries.
   * Near ties (near-ties.ts) are listed by image index; a run of them that reaches past the top-k
   * fetched asks for a larger top-k.
   */
  neighboursOfMany(indices: number[], k = 12): NeighbourAnswer[] {
    indices.forEach((index) => this.#checkImage(index));
    const features = this.#loadFeatures();
    const [rows, dim] = features.shape as [number, number];
    const tolerance = nearTieTolerance(dim);
    const answers: NeighbourAnswer[] = [];
    for (let start = 0; start < indices.length; start += 64) {
      const batch = indices.slice(start, start + 64);
      for (let count = Math.min(k + 1 + TIE_MARGIN, rows); ; count = Math.min(rows, 2 * count)) {
        const found = tidy(() => {
          const queries = features.indexSelect(0, tensor(batch, { dtype: 'int64' }));
          const best = topk(features.mm(queries.t()), count, { dim: 0 });
          return { values: best.values.t().contiguous().toArray(), indices: best.indices.t().contiguous().toArray() };
        });
        const ranked = batch.map((index, q) => {
          const neighbours: Neighbour[] = [];
          for (let i = q * count; i < (q + 1) * count; i++) {
            const other = found.indices[i] as number;
            if (other === index) continue;
            neighbours.push({
              index: other,
              cluster: this.labels[other] as number,
              distance: Math.max(0, 2 - 2 * (found.values[i] as number)),
              className: this.className(other),
            });
          }
          return { index, neighbours, settled: breakNearTies(neighbours, tolerance) };
        });
        if (count < rows && ranked.some(({ settled }) => settled < k)) continue;
        for (const { index, neighbours } of ranked) {
          answers.push({
            index,
            cluster: this.labels[index] as number,
            className: this.className(index),
            neighbours: neighbours.slice(0, k),
          });
        }
        break;
      }
    }
    return answers;
  }

  dispose(): void {
    this.#normalised?.dispose();
    this.#normalised = null;
    this.#images.close();
  }

  #loadFeatures(): Tensor {
    if (this.#normalised !== null) return this.#normalised;
    if (this.#features === null) throw new Error(this.info.neighboursUnavailable ?? 'no features');
    const { dir, split, layer } = this.#features;
    const features = readFeaturesInOrder(dir, split, layer);
    const rows = features.shape[0] as number;
    if (rows !== this.info.images) {
      features.dispose();
      throw new Error(
        `${dir}: ${rows} ${split} features of ${layer}, but the clustering labels ${this.info.images} images`,
      );
    }
    this.#normalised = keep(tidy(() => l2Normalize(features.reshape(rows, -1).to('float32'))));
    features.dispose();
    return this.#normalised;
  }

  #membersOf(cluster: number): Int32Array {
    return this.#members.subarray(this.#offsets[cluster], this.#offsets[cluster + 1]);
  }

  #membersByDistance(cluster: number): Int32Array {
    this.#checkCluster(cluster);
    const members = this.#membersOf(cluster);
    if (!this.#sorted[cluster]) {
      const byDistance = Array.from(members).sort(
        (a, b) => (this.#distances[a] as number) - (this.#distances[b] as number) || a - b,
      );
      members.set(byDistance);
      this.#sorted[cluster] = 1;
    }
    return members;
  }

  #order(sort: SortKey): Int32Array {
    let order = this.#orders.get(sort);
    if (order === undefined) {
      const ids = Array.from({ length: this.info.numClusters }, (_, c) => c);
      const key =
        sort === 'size'
          ? this.info.sizes
          : sort === 'purity'
            ? Array.from(this.#purity ?? [])
            : sort === 'spread'
              ? Array.from(this.#spread)
              : ids;
      // Ascending by key, ties by id descending, so that the descending walk lists ties by id ascending.
      ids.sort((a, b) => (key[a] as number) - (key[b] as number) || b - a);
      order = Int32Array.from(ids);
      this.#orders.set(sort, order);
    }
    return order;
  }

  #checkCluster(cluster: number): void {
    if (!(Number.isInteger(cluster) && cluster >= 0 && cluster < this.info.numClusters)) {
      throw new RangeError(
        `cluster ${cluster} does not exist: this clustering has clusters 0..${this.info.numClusters - 1}`,
      );
    }
  }

  #checkImage(index: number): void {
    if (!(Number.isInteger(index) && index >= 0 && index < this.info.images)) {
      throw new RangeError(`image ${index} does not exist: this clustering has images 0..${this.info.images - 1}`);
    }
  }

  /**
   * Classes from the images' parent folders (ImageFolder layout), read in chunks so the paths are
   * never all held at once. Fewer than 2 folders, or about one per image, means there are none.
   */
  #readClasses(): { names: string[]; ids: Int32Array | null } {
    const n = this.#images.rows;
    const ids = new Int32Array(n);
    const byName = new Map<string, number>();
    const chunk = 65536;
    for (let start = 0; start < n; start += chunk) {
      const paths = this.#images.readStrings(start, Math.min(n, start + chunk));
      paths.forEach((path, i) => {
        const name = basename(dirname(path));
        let id = byName.get(name);
        if (id === undefined) byName.set(name, (id = byName.size));
        ids[start + i] = id;
      });
    }
    const names = [...byName.keys()];
    if (names.length < 2 || names.length > n / 2) return { names: [], ids: null };
    return { names, ids };
  }

  /** The features the clustering was made from, as its saved config names them. */
  #featureSource(dir: string): FeatureSource | null {
    const configFile = join(dir, 'cluster_config.yaml');
    if (!existsSync(configFile)) return null;
    const cfg = parseYaml(readFileSync(configFile, 'utf8')) as {
      config?: { CLUSTERFIT?: { FEATURES?: { PATH?: string; LAYER_NAME?: string; DATA_PARTITION?: string } } };
    };
    const features = cfg.config?.CLUSTERFIT?.FEATURES;
    if (!features?.PATH || !features.LAYER_NAME) return null;
    const path = isAbsolute(features.PATH) ? features.PATH : resolve(features.PATH);
    if (!existsSync(path)) return null;
    return { dir: path, split: (features.DATA_PARTITION ?? 'TRAIN').toLowerCase(), layer: features.LAYER_NAME };
  }
}

/**
 * Features in dataset-index order, as the clustering's labels are. One shard already in that order
 * (the usual single-process extraction) is read straight from the .npy, which at 1.28M rows takes
 * seconds where the general merge of shards (loadFeatures) takes about a minute.
 */
function readFeaturesInOrder(dir: string, split: string, layer: string): Tensor {
  const shards = findFeatureShards(dir, split, layer);
  if (shards.length === 1) {
    const shard = shards[0] as FeatureShard;
    const inds = readNpy(shard.inds) as Tensor;
    const inOrder = tidy(
      () => all(inds.flatten().eq(arange(inds.numel, undefined, 1, { dtype: 'int64' }))).item() === 1,
    );
    inds.dispose();
    if (inOrder) {
      const reader = new NpyReader(shard.features);
      try {
        return reader.read();
      } finally {
        reader.close();
      }
    }
  }
  return loadFeatures(dir, split, layer).features;
}

function relativeTo(root: string, path: string): string {
  const rel = path.startsWith(root) ? path.slice(root.length).replace(/^\/+/, '') : path;
  return rel === '' ? '.' : rel;
}
