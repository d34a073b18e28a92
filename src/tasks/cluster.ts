// The `cluster_features` engine (VISSL's tools/cluster_features_and_label.py): features of the
// TRAIN partition (extracted first when FEATURES.EXTRACT), L2-normalised with VISSL's +1e-5,
// optionally PCA-whitened, optionally sampled (DATA_LIMIT), clustered with k-means, then every
// TRAIN and TEST image assigned to its nearest centroid. Outputs, in CLUSTERFIT.OUTPUT_DIR with
// prefix `{DATASET_NAME}_{split}_{LAYER_NAME}_N{K}_D{dim}`:
//   _labels.npy (int64, one per image), _images.npy (paths, same order), _distances.npy,
//   _cluster_sizes.npy, and for the train split _centroids.npy (K x dim float32).
// Unlike VISSL at HEAD, rows are deduplicated and sorted by dataset index, so a label file has
// exactly one entry per image of the dataset, in the dataset's order.
// On several ranks each rank reads and computes on its block of the rows only (see
// engine/distributed/cluster.ts), except with CLUSTER_BACKEND faiss, which is not distributed.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  defaultBoundsMemory,
  faissAssign,
  faissAvailable,
  faissKmeans,
  l2Normalize,
  PCA,
  type IterationStats,
  type KMeansResult,
} from '../cluster/index.js';
import type { Config, Partition } from '../config/index.js';
import { assignOnRanks, kmeansOnRanks, ownedRows, type RowBlock } from '../engine/distributed/cluster.js';
import { barrier, isMainRank, sumOverRanks, worldSize } from '../engine/distributed/ranks.js';
import { loadFeatures, type LoadedFeatures } from '../engine/feature-files.js';
import { Stopwatch } from '../engine/stopwatch.js';
import { bincount, indexSelect, manualSeed, randperm, tensor, tidy, type Tensor } from '../torch/index.js';
import { writeNpy } from '../torch/io/index.js';
import { startTask, type TaskContext, type TaskOptions } from './context.js';
import { extractTask } from './extract.js';
import { finishedResult, recordFinished, stageFingerprint } from './finished.js';

export interface ClusterSplitResult {
  split: string;
  images: number;
  labels: string;
  imagesFile: string;
  /** Images per cluster. */
  sizes: number[];
}

export interface ClusterResult {
  dir: string;
  numClusters: number;
  dim: number;
  objective: number[];
  centroids: string;
  splits: ClusterSplitResult[];
  /** Cluster statistics of the training split. */
  stats: ClusterStats;
}

export interface ClusterStats {
  empty: number;
  smallest: number;
  largest: number;
  median: number;
  /** k * sum(size^2) / n^2: 1 for equal sizes (FAISS's imbalance factor). */
  imbalance: number;
}

export function clusterStats(sizes: number[]): ClusterStats {
  const sorted = [...sizes].sort((a, b) => a - b);
  const n = sizes.reduce((a, b) => a + b, 0);
  return {
    empty: sizes.filter((s) => s === 0).length,
    smallest: sorted[0] ?? 0,
    largest: sorted[sorted.length - 1] ?? 0,
    median: sorted[Math.floor(sorted.length / 2)] ?? 0,
    imbalance: n > 0 ? (sizes.length * sizes.reduce((a, s) => a + s * s, 0)) / (n * n) : 0,
  };
}

/** Writes `t` (copied to the host if needed) as .npy, on rank 0 only (every rank holds the same
 * values); `dispose` frees `t` afterwards. */
function writeNpyOnHost(path: string, t: Tensor, { dispose = false } = {}): void {
  if (isMainRank()) {
    const host = t.to('cpu');
    writeNpy(path, host);
    host.dispose();
  }
  if (dispose) t.dispose();
}

/**
 * Writes one split's assignment as the cluster stage does, at `<prefix>_labels.npy` (int64, one
 * per image), `_distances.npy`, `_cluster_sizes.npy` and `_images.npy` (the paths, same order), and
 * frees the assignment's tensors.
 */
export function writeAssignment(
  prefix: string,
  assignment: { labels: Tensor; distances: Tensor },
  images: readonly string[],
  k: number,
): { labels: string; imagesFile: string; sizes: number[] } {
  const sizes = tidy(() => bincount(assignment.labels.to('cpu'), k).toArray());
  writeNpyOnHost(`${prefix}_labels.npy`, assignment.labels, { dispose: true });
  writeNpyOnHost(`${prefix}_distances.npy`, assignment.distances, { dispose: true });
  writeNpyOnHost(`${prefix}_cluster_sizes.npy`, tensor(sizes, { dtype: 'int64' }), { dispose: true });
  if (isMainRank()) writeNpy(`${prefix}_images.npy`, images);
  return { labels: `${prefix}_labels.npy`, imagesFile: `${prefix}_images.npy`, sizes };
}

/**
 * The rows of `n` used to find the centroids, in order: null for all of them, or DATA_LIMIT of them
 * drawn with DATA_LIMIT_SAMPLING.SEED (the same rows on every rank: a seeded CPU generator).
 */
function trainingRows(n: number, limit: number, seed: number): Int32Array | null {
  if (limit < 0 || limit >= n) return null;
  manualSeed(seed);
  return Int32Array.from(tidy(() => randperm(n).narrow(0, 0, limit).toArray()));
}

/**
 * Extraction writes the layers of the pool map (VISSL's rule), so the layer to cluster must be one
 * of them; said up front, in the config's words, instead of by the trunk in the middle of extraction.
 */
function checkLayerIsExtracted(cfg: Config, layer: string): void {
  const map = cfg.MODEL.FEATURE_EVAL_SETTINGS.LINEAR_EVAL_FEAT_POOL_OPS_MAP as [string, unknown][];
  const extracted = map.map(([name]) => name);
  if (!cfg.CLUSTERFIT.FEATURES.EXTRACT || extracted.length === 0 || extracted.includes(layer)) return;
  throw new Error(
    `CLUSTERFIT.FEATURES.LAYER_NAME is '${layer}', but MODEL.FEATURE_EVAL_SETTINGS.LINEAR_EVAL_FEAT_POOL_OPS_MAP ` +
      `extracts only ${extracted.map((name) => `'${name}'`).join(', ')}: set LAYER_NAME to one of them, ` +
      `or add an entry for '${layer}' to the map (e.g. ['${layer}', ['AdaptiveAvgPool2d', [[1, 1]]]])`,
  );
}

/**
 * VISSL's cluster_features_and_label: extracts CLUSTERFIT.FEATURES.LAYER_NAME features (unless
 * FEATURES.EXTRACT is off and they are already in FEATURES.PATH), runs k-means into
 * CLUSTERFIT.NUM_CLUSTERS clusters, and writes VISSL's label files (`*_N<K>_D<d>_labels.npy`, int64,
 * aligned with the image list) with centroids and cluster sizes into CLUSTERFIT.OUTPUT_DIR. The
 * stage's state is recorded in `cluster_state.json`.
 */
export async function clusterTask(cfg: Config, options: TaskOptions = {}): Promise<ClusterResult> {
  const layer = cfg.CLUSTERFIT.FEATURES.LAYER_NAME;
  if (layer === '')
    throw new Error('CLUSTERFIT.FEATURES.LAYER_NAME is empty: name the layer to cluster (e.g. res5 or flatten)');
  checkLayerIsExtracted(cfg, layer);
  const ctx = startTask(cfg, cfg.CLUSTERFIT.OUTPUT_DIR, 'CLUSTERFIT.OUTPUT_DIR', 'cluster', options);
  return ctx.record.track(
    () => clusterIn(ctx, layer, options),
    () => ({ stopped: false }),
  );
}

async function clusterIn(ctx: TaskContext, layer: string, options: TaskOptions): Promise<ClusterResult> {
  const { cfg, device, dir, logger, ranks } = ctx;
  const cf = cfg.CLUSTERFIT;
  const partitions = [cf.FEATURES.DATA_PARTITION as Partition];
  if (cf.FEATURES.TEST_PARTITION !== '' && cfg.DATA[cf.FEATURES.TEST_PARTITION as Partition].DATA_PATHS.length > 0) {
    partitions.push(cf.FEATURES.TEST_PARTITION as Partition);
  }
  const fingerprint = stageFingerprint(cfg, { partitions });
  const done = finishedResult<ClusterResult>(cfg, dir, 'cluster', fingerprint);
  if (done) {
    logger.info(`clusters are already made in ${dir} (K=${done.numClusters}); skipping`);
    return done;
  }
  if (cf.FEATURES.EXTRACT) {
    await extractTask(cfg, { ...options, logger, layers: [layer], outputDir: cf.FEATURES.PATH, partitions });
  }
  const datasetName = cf.FEATURES.DATASET_NAME || cfg.DATA.TRAIN.DATASET_NAMES[0] || 'dataset';
  const k = cf.NUM_CLUSTERS;
  const split = (partition: Partition): string => partition.toLowerCase();
  // FAISS is not distributed: with CLUSTER_BACKEND faiss every rank reads every row and runs it on
  // all of them, as one process does. Otherwise each rank reads only its block of the rows.
  const sharded = cf.CLUSTER_BACKEND !== 'faiss';
  const loadSplit = (partition: Partition): LoadedFeatures => {
    let read = 0;
    const loaded = loadFeatures(cf.FEATURES.PATH, split(partition), layer, {
      ...(sharded ? { rows: (n: number) => ownedRows(n) } : {}),
      onRead: (_file, start, end) => (read += end - start),
    });
    if (worldSize() > 1) {
      const [start, end] = loaded.rows;
      logger.info(
        `${split(partition)} features: this rank holds rows [${start}, ${end}) of ${loaded.indices.length}; read ${read} feature rows from the files`,
      );
    }
    return loaded;
  };
  const blockOf = (loaded: LoadedFeatures): RowBlock => ({ start: loaded.rows[0], total: loaded.indices.length });

  const train = loadSplit(partitions[0] as Partition);
  const pca = cf.FEATURES.DIMENSIONALITY_REDUCTION > 0 ? new PCA(cf.FEATURES.DIMENSIONALITY_REDUCTION) : null;
  // VISSL's preprocessing: L2-normalise (+1e-5), then PCA-whiten with the PCA fitted on the train features.
  const prepare = (features: Tensor): Tensor =>
    tidy(() => {
      const normalised = l2Normalize(features.to(device));
      return pca ? pca.transform(normalised) : normalised;
    });
  let trained: KMeansResult | null = null;
  try {
    const count = train.indices.length;
    if (k > count) {
      throw new Error(
        `CLUSTERFIT.NUM_CLUSTERS is ${k} but there are only ${count} ${split(partitions[0] as Partition)} features to cluster; ` +
          `set config.CLUSTERFIT.NUM_CLUSTERS to at most ${count} (FAISS needs at least as many points as clusters)`,
      );
    }
    // The PCA is fitted on every train row: on several ranks from their statistics summed in float64.
    if (pca)
      tidy(() => void pca.fit(l2Normalize(train.features.to(device)), sharded ? { sum: sumOverRanks } : undefined));
    const trainFeatures = prepare(train.features);
    const dim = trainFeatures.shape[1] as number;
    const training = trainingRows(count, cf.DATA_LIMIT, cf.DATA_LIMIT_SAMPLING.SEED);
    logger.info(
      `k-means: ${training?.length ?? count} x ${dim} features of ${layer} into ${k} clusters, ${cf.NUM_ITER} iterations (${cf.CLUSTER_BACKEND})`,
    );
    const kmeansOptions = {
      niter: cf.NUM_ITER,
      // The ranks on this machine size their bounds at once: each takes its share of the memory.
      boundsMemory: defaultBoundsMemory(ranks.localWorldSize),
      onIteration: (stats: IterationStats) =>
        logger.metrics('kmeans_iteration', {
          objective: stats.objective,
          imbalance_factor: stats.imbalanceFactor,
          empty_cluster_splits: stats.nsplit,
          points_searched: stats.searched,
          seconds: stats.time,
        }),
      // FAISS's only warning (few points per centroid) is expected on small sets such as the demo's: a note.
      warn: (message: string) => logger.info(`k-means: ${message}`),
    };
    const kmeansTime = new Stopwatch();
    if (cf.CLUSTER_BACKEND === 'faiss') {
      if (!faissAvailable()) {
        throw new Error(
          'CLUSTERFIT.CLUSTER_BACKEND is faiss but the FAISS addon is not built: apt-get install libfaiss-dev, then npm run build; or set config.CLUSTERFIT.CLUSTER_BACKEND=torch',
        );
      }
      const sample =
        training === null
          ? trainFeatures
          : tidy(() => indexSelect(trainFeatures, 0, tensor(training).to('int64').to(trainFeatures.device)));
      try {
        trained = await faissKmeans(sample, k, kmeansOptions);
      } finally {
        if (sample !== trainFeatures) sample.dispose();
      }
    } else {
      trained = kmeansOnRanks(trainFeatures, blockOf(train), k, kmeansOptions, training);
    }
    logger.metrics('kmeans', {
      points: training?.length ?? count,
      dim,
      clusters: k,
      iterations: cf.NUM_ITER,
      ...kmeansTime.read(),
    });
    const prefixOf = (partition: Partition): string => `${datasetName}_${split(partition)}_${layer}_N${k}_D${dim}`;
    const centroidsFile = join(dir, `${prefixOf(partitions[0] as Partition)}_centroids.npy`);
    writeNpyOnHost(centroidsFile, trained.centroids);

    const splits: ClusterSplitResult[] = [];
    for (const partition of partitions) {
      const loaded = partition === partitions[0] ? train : loadSplit(partition);
      const features = partition === partitions[0] ? trainFeatures : prepare(loaded.features);
      if (loaded.images === null) {
        throw new Error(
          `the ${split(partition)} features in ${cf.FEATURES.PATH} have no _images.npy: extract them again with this version`,
        );
      }
      const assignment =
        cf.CLUSTER_BACKEND === 'faiss'
          ? await faissAssign(features, trained.centroids)
          : assignOnRanks(features, blockOf(loaded), trained.centroids);
      const prefix = join(dir, prefixOf(partition));
      const written = writeAssignment(prefix, assignment, loaded.images, k);
      features.dispose();
      if (loaded !== train) loaded.features.dispose();
      splits.push({ split: split(partition), images: loaded.indices.length, ...written });
      logger.info(`labelled ${loaded.indices.length} ${split(partition)} images -> ${prefix}_labels.npy`);
    }
    const stats = clusterStats(splits[0]?.sizes ?? []);
    const result: ClusterResult = {
      dir,
      numClusters: k,
      dim,
      objective: trained.objective,
      centroids: centroidsFile,
      splits,
      stats,
    };
    logger.metrics('cluster_summary', { ...result, splits: splits.map(({ sizes: _sizes, ...rest }) => rest) });
    const files = [centroidsFile, ...splits.flatMap((s) => [s.labels, s.imagesFile])];
    if (isMainRank()) {
      writeFileSync(join(dir, `${prefixOf(partitions[0] as Partition)}_summary.json`), JSON.stringify(result, null, 2));
      recordFinished(dir, 'cluster', fingerprint, files, result);
    }
    // The labels exist for every rank before any rank goes on to a stage that reads them.
    barrier();
    return result;
  } finally {
    train.features.dispose();
    trained?.centroids.dispose();
    pca?.dispose();
  }
}
