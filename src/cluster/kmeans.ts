// k-means with the semantics of FAISS's Clustering (faiss/Clustering.cpp, as faiss.Kmeans runs
// it), on torch tensors, CPU or CUDA: the same training sample, the same initial centroids, the
// same empty-cluster splits and the same per-iteration statistics, so a run can be compared
// with FAISS number for number. Distances are one GEMM per chunk of rows (see assign.ts), and
// by default only for the pairs or points whose cluster the bounds cannot vouch for (elkan.ts,
// pruned.ts).
import { freemem, totalmem } from 'node:os';
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { assignChunk, checkFeatures, chunkRows, prepareCentroids, squaredNorms, type Metric } from './assign.js';
import {
  assignChunkFast,
  prepareFast,
  reducedPrecisionWarning,
  type DistancePrecision,
  type Rechecked,
} from './fast-assign.js';
import { ElkanAssignment, elkanBytes, type IncrementalAssignment } from './elkan.js';
import { PrunedAssignment } from './pruned.js';
import { Mt19937, randPerm } from './random.js';

export interface KMeansOptions {
  /** Lloyd iterations (FAISS's own default is 25; VISSL passes CLUSTERFIT.N_ITER). */
  niter?: number;
  /** Seed of the training sample and of the initial centroids (FAISS: 1234). */
  seed?: number;
  /** Runs with different initialisations; the one with the best final objective is kept. */
  nredo?: number;
  /** More points than K times this are subsampled to it (FAISS: 256). */
  maxPointsPerCentroid?: number;
  /** Fewer points than K times this give a warning (FAISS: 39). */
  minPointsPerCentroid?: number;
  /** Unit-norm centroids, assigned by largest inner product (faiss.Kmeans(spherical=True)). */
  spherical?: boolean;
  /**
   * Skip the distance computations that bounds prove cannot change a point's cluster (squared
   * L2 only). The assignments are those of the full search FAISS runs, up to float rounding on
   * exact ties; false searches every point every iteration, as FAISS does. Default true: on CPU,
   * one bound per point and centroid when they fit `boundsMemory` (elkan.ts), else one per point,
   * used while they save time on this machine (pruned.ts measures it); 'always' uses the latter
   * every iteration, whatever the clock says (the same labels either way, and a count of points
   * searched that does not depend on the machine's load).
   */
  pruning?: boolean | 'always';
  /** Bytes the per-centroid bounds (N x K float32) may take (default `defaultBoundsMemory()`: half
   * the memory available at the start, at most a quarter of the machine's); 0 keeps one bound per
   * point (pruned.ts). */
  boundsMemory?: number;
  /** Rows per distance chunk; by default as many as fit `memoryBudget`. */
  chunkSize?: number;
  /** Bytes the chunk x K distance matrix may take (default 16 MiB on CPU, 1 GiB on an accelerator). */
  memoryBudget?: number;
  /**
   * Distance arithmetic (L2): 'float32' as FAISS (default), or 'tf32' / 'bfloat16': a faster GEMM
   * on a GPU whose near-ties are rechecked in float32 (rescored among their nearest candidates, or
   * searched again), giving the same labels (fast-assign.ts). The fast paths search every point (no
   * pruning); on a CPU they only add work, and say so through `warn`.
   */
  precision?: DistancePrecision;
  onIteration?: (stats: IterationStats) => void;
  /** Where warnings go: FAISS's, and a reduced `precision` on a CPU (default: console.warn). */
  warn?: (message: string) => void;
  /** `x` is this rank's part of a training set spread over several ranks (see KMeansShard). */
  shard?: KMeansShard;
}

/**
 * A training set held by several ranks: each calls `kmeans` with its own rows and the same
 * options. The initial centroids are gathered from the ranks that hold them, every iteration's
 * centroid sums, counts and objective travel in one flat sum over the ranks, and the empty-cluster
 * splits then run on identical numbers everywhere, so every rank ends with the same centroids,
 * those of one process up to float summation order.
 */
export interface KMeansShard {
  /** Rows of the whole training set, over all ranks. */
  total: number;
  /** The position in the whole training set (FAISS's order) of each of this rank's rows. */
  positions: Int32Array;
  /** Sums a float64 tensor over the ranks, in place (an all-reduce). */
  sum(t: Tensor): void;
}

/** FAISS's ClusteringIterationStats. */
export interface IterationStats {
  /** Sum over the training points of the distance to their centroid at this iteration's assignment. */
  objective: number;
  /** Seconds since the iterations started (cumulative, as FAISS). */
  time: number;
  /** Seconds spent assigning, cumulative (here including the per-chunk centroid sums, which run
   * interleaved with the assignment). */
  timeSearch: number;
  /** k * sum(size^2) / n^2: 1 for equal cluster sizes, larger when unbalanced. */
  imbalanceFactor: number;
  /** Empty clusters re-seeded by splitting a large one. */
  nsplit: number;
  /** Training points compared with every centroid at this iteration: all of them in FAISS,
   * fewer as the centroids settle with `pruning` (with per-centroid bounds, the point-centroid
   * distances computed, in points' worth: pairs / K). Not reported by the FAISS backend. */
  searched?: number;
  /** With a reduced `precision`: the rows the approximate top-2 gap did not settle, rescored in
   * float32 among their nearest candidates or searched again in float32 against every centroid
   * (the other `searched` rows were final from the gap). */
  rechecked?: Rechecked;
}

export interface KMeansResult {
  /** K x d float32, on the device of the features. */
  centroids: Tensor;
  /** The objective of each iteration. */
  objective: number[];
  iterations: IterationStats[];
  /** Points actually trained on (after subsampling). */
  trainingPoints: number;
}

/** Resolved options, FAISS's ClusteringParameters defaults where not given. */
/** KMeansOptions with FAISS's ClusteringParameters defaults filled in and checked. */
export interface KMeansParams {
  niter: number;
  seed: number;
  nredo: number;
  maxPointsPerCentroid: number;
  minPointsPerCentroid: number;
  spherical: boolean;
}

export function resolveKMeansParams(options: KMeansOptions): KMeansParams {
  const params = {
    niter: options.niter ?? 20,
    seed: options.seed ?? 1234,
    nredo: options.nredo ?? 1,
    maxPointsPerCentroid: options.maxPointsPerCentroid ?? 256,
    minPointsPerCentroid: options.minPointsPerCentroid ?? 39,
    spherical: options.spherical ?? false,
  };
  for (const name of ['niter', 'seed', 'nredo', 'maxPointsPerCentroid', 'minPointsPerCentroid'] as const) {
    const value = params[name];
    const min = name === 'nredo' || name === 'maxPointsPerCentroid' ? 1 : 0;
    if (!Number.isSafeInteger(value) || value < min) {
      throw new Error(`k-means option ${name} must be an integer >= ${min}, got ${value}`);
    }
  }
  return params;
}

export function checkClusterCount(n: number, k: number): void {
  if (!(Number.isSafeInteger(k) && k >= 1))
    throw new Error(`the number of clusters must be a positive integer, got ${k}`);
  if (n < k) {
    throw new Error(
      `NUM_CLUSTERS (${k}) is larger than the number of feature vectors (${n}): k-means needs at least one point per cluster. Lower CLUSTERFIT.NUM_CLUSTERS to at most ${n}, or cluster more images.`,
    );
  }
}

/**
 * The rows FAISS trains on when `n` points are clustered into `k`: null when all of them (n <=
 * k * maxPointsPerCentroid), otherwise k * maxPointsPerCentroid row numbers in FAISS's order (the
 * first ones of a seeded permutation). Lets a caller read just these rows of a feature file.
 */
export function trainingSample(
  n: number,
  k: number,
  options: Pick<KMeansOptions, 'seed' | 'maxPointsPerCentroid'> = {},
): Int32Array | null {
  const max = k * (options.maxPointsPerCentroid ?? 256);
  if (n <= max) return null;
  return randPerm(n, options.seed ?? 1234).subarray(0, max);
}

function rowIndex(rows: Int32Array, device: string): Tensor {
  return torch.tidy(() => torch.tensor(rows).to('int64').to(device));
}

// FAISS perturbs a split centroid by this relative amount, a bit above float16's epsilon.
const EPS = 1 / 1024;
/**
 * The per-centroid bounds' default memory (KMeansOptions.boundsMemory): half the memory available
 * when k-means starts, at most a quarter of the machine's, shared by `processes` processes of one
 * machine that size their bounds at about the same time (a job's ranks on one node). The bounds pay
 * wherever they fit: on real 2048-d ResNet-50 features, 107,152 points x K = 4,000 (1.7 GB of
 * bounds) took 43 s with them and 183 s with one bound per point (FAISS 208 s; 2-core AMD EPYC VM,
 * docs/benchmark-kmeans.md), so the budget is what the machine can spare rather than a fixed cap.
 * ImageNet's 1.28 M x 16,000 (82 GB) uses them only on a machine of 330 GB or more.
 */
export function defaultBoundsMemory(processes = 1): number {
  return Math.min(totalmem() / 4, freemem() / 2) / Math.max(1, processes);
}

/**
 * FAISS's split_clusters: each empty cluster takes over half of a cluster picked with
 * probability (size - 1) / (n - k), starting the search at cluster 0 with a generator seeded
 * 1234 on every call; both centroids are the old one scaled by 1 +/- EPS in alternating
 * coordinates. `sizes` are updated as FAISS does (assuming an even split).
 */
function splitEmptyClusters(centroids: Tensor, sizes: Float32Array, n: number, signs: [Tensor, Tensor]): number {
  const k = sizes.length;
  const rng = new Mt19937(1234);
  const denominator = Math.fround(n - k);
  let nsplit = 0;
  for (let ci = 0; ci < k; ci++) {
    if (sizes[ci] !== 0) continue;
    let cj = 0;
    for (; ; cj = (cj + 1) % k) {
      const p = (sizes[cj]! - 1) / denominator;
      if (rng.randFloat() < p) break;
    }
    torch.tidy(() => {
      const source = torch.select(centroids, 0, cj);
      torch.select(centroids, 0, ci).copy_(source.mul(signs[0]));
      source.mul_(signs[1]);
    });
    sizes[ci] = Math.fround(sizes[cj]! / 2);
    sizes[cj] = Math.fround(sizes[cj]! - sizes[ci]!);
    nsplit++;
  }
  return nsplit;
}

/** k * sum(size^2) / n^2 over the assignment's cluster sizes (FAISS's imbalance_factor). */
function imbalanceFactor(sizes: Float32Array): number {
  let total = 0;
  let squares = 0;
  for (const size of sizes) {
    total += size;
    squares += size * size;
  }
  return (squares * sizes.length) / (total * total);
}

function normalizeRows(centroids: Tensor): Tensor {
  return torch.tidy(() => centroids.div(centroids.norm(2, 1, true).clamp(1e-30)));
}

function checkFinite(x: Tensor, rows: number): void {
  const n = x.shape[0]!;
  for (let first = 0; first < n; first += rows) {
    const finite = torch.tidy(() =>
      torch.all(torch.isfinite(torch.narrow(x, 0, first, Math.min(rows, n - first)))).item(),
    );
    if (!finite) {
      throw new Error(
        `the features contain NaN or Inf values (in rows ${first}..${Math.min(first + rows, n) - 1}); check the feature extraction (FAISS refuses them too)`,
      );
    }
  }
}

/** What an assignment step hands to the centroid update. */
interface Assigned {
  /** Per-centroid sums of the rows assigned to it (K x d). */
  sums: Tensor;
  /** Rows per centroid (int64, K). */
  counts: Tensor;
  objective: number;
  /** Rows compared with every centroid. */
  searched: number;
  /** Near-ties rescored or searched again in float32 (reduced precision only). */
  rechecked?: Rechecked;
}

/** The plain assignment step, as FAISS runs it: every row against every centroid, chunk by chunk,
 * summed into the centroid totals as it goes (the labels are never needed whole). */
function searchAll(
  x: Tensor,
  centroids: Tensor,
  metric: Metric,
  rowNorms: Tensor | null,
  rows: number,
  precision: DistancePrecision = 'float32',
): Assigned {
  const [n, d] = x.shape as [number, number];
  const k = centroids.shape[0]!;
  const prepared = prepareCentroids(centroids, metric);
  const fast = precision !== 'float32' && metric === 'l2' ? prepareFast(centroids, precision) : null;
  const rechecked = { rescored: 0, researched: 0 };
  const sums = torch.zeros([k, d], { device: x.device });
  const counts = torch.zeros([k], { dtype: 'int64', device: x.device });
  const objective = torch.zeros([], { dtype: 'float64', device: x.device });
  for (let first = 0; first < n; first += rows) {
    const length = Math.min(rows, n - first);
    torch.tidy(() => {
      const chunk = torch.narrow(x, 0, first, length);
      const norms = rowNorms === null ? undefined : torch.narrow(rowNorms, 0, first, length);
      let found: { labels: Tensor; distances: Tensor };
      if (fast === null) {
        found = assignChunk(chunk, prepared, norms);
      } else {
        const part = assignChunkFast(chunk, prepared, fast, norms);
        rechecked.rescored += part.rechecked.rescored;
        rechecked.researched += part.rechecked.researched;
        found = part;
      }
      const { labels, distances } = found;
      torch.indexAdd_(sums, 0, labels, chunk);
      counts.add_(torch.bincount(labels, k));
      objective.add_(distances.sum(undefined, { dtype: 'float64' }));
    });
  }
  return { sums, counts, objective: objective.item(), searched: n, ...(fast ? { rechecked } : {}) };
}

/** Bounds per point and centroid where they fit, on CPU (where pairDots and findAtMost_ have their
 * fused kernels; elsewhere they are gathers and several passes), else per point. */
function boundedAssignment(
  x: Tensor,
  rowNorms: Tensor,
  rows: number,
  k: number,
  options: KMeansOptions,
): IncrementalAssignment {
  const budget = options.boundsMemory ?? defaultBoundsMemory();
  if (options.pruning !== 'always' && x.device === 'cpu' && elkanBytes(x.shape[0]!, k) <= budget) {
    return new ElkanAssignment(x, rowNorms, rows, k);
  }
  return new PrunedAssignment(x, rowNorms, rows, { adaptive: options.pruning !== 'always' });
}

/** The pruned assignment step (elkan.ts or pruned.ts), then the centroid totals from its labels. */
function searchPruned(
  pruned: IncrementalAssignment,
  x: Tensor,
  rowNorms: Tensor,
  centroids: Tensor,
  rows: number,
): Assigned {
  const [n, d] = x.shape as [number, number];
  const k = centroids.shape[0]!;
  const searched = pruned.update(centroids);
  const sums = torch.zeros([k, d], { device: x.device });
  for (let first = 0; first < n; first += rows) {
    const length = Math.min(rows, n - first);
    torch.tidy(() =>
      torch.indexAdd_(sums, 0, torch.narrow(pruned.labels, 0, first, length), torch.narrow(x, 0, first, length)),
    );
  }
  const counts = torch.bincount(pruned.labels, k);
  // Most rows were never compared with their centroid, so the objective comes from the totals:
  // sum ||x - c||^2 = sum ||x||^2 - 2 sum_j c_j . S_j + sum_j n_j ||c_j||^2, in float64.
  const objective = torch.tidy(() => {
    const c = centroids.to('float64');
    const crossTerms = c.mul(sums.to('float64')).sum();
    const centroidTerms = c.square().sum(1).mul(counts.to('float64')).sum();
    return rowNorms.sum(undefined, { dtype: 'float64' }).sub(crossTerms, 2).add(centroidTerms).item();
  });
  return { sums, counts, objective, searched };
}

/** Rows at training-set positions `wanted`, from whichever rank holds each (one sum over ranks). */
function gatherRows(x: Tensor, wanted: Int32Array, shard: KMeansShard): Tensor {
  const localRow = new Map<number, number>();
  shard.positions.forEach((position, row) => localRow.set(position, row));
  const mine = [...wanted.keys()].filter((i) => localRow.has(wanted[i]!));
  const gathered = torch.zeros([wanted.length, x.shape[1]!], { dtype: 'float64', device: x.device });
  if (mine.length > 0) {
    const rows = torch.indexSelect(
      x,
      0,
      rowIndex(
        Int32Array.from(mine, (i) => localRow.get(wanted[i]!)!),
        x.device,
      ),
    );
    torch.indexCopy_(gathered, 0, rowIndex(Int32Array.from(mine), x.device), rows.to('float64'));
  }
  shard.sum(gathered);
  // Each row came from exactly one rank, so float32 -> float64 -> float32 gives it back exactly.
  return gathered.to('float32');
}

/** One flat float64 sum over the ranks of [sums (k x d) | counts (k) | objective | searched]. */
function sumOverShards(local: Assigned, shard: KMeansShard): Assigned {
  const [k, d] = local.sums.shape as [number, number];
  const flat = torch.cat([
    local.sums.to('float64').reshape(-1),
    local.counts.to('float64'),
    torch.tensor([local.objective, local.searched], { dtype: 'float64', device: local.sums.device }),
  ]);
  shard.sum(flat);
  const totals = torch
    .narrow(flat, 0, k * d + k, 2)
    .to('cpu')
    .toArray() as number[];
  return {
    sums: torch
      .narrow(flat, 0, 0, k * d)
      .reshape(k, d)
      .to('float32'),
    counts: torch.narrow(flat, 0, k * d, k).to('int64'),
    objective: totals[0]!,
    searched: totals[1]!,
  };
}

interface Run {
  centroids: Tensor;
  iterations: IterationStats[];
}

/** One k-means run from the initialisation given by `seed` (FAISS's redo loop body). */
function runOnce(x: Tensor, k: number, params: KMeansParams, seed: number, rows: number, options: KMeansOptions): Run {
  const d = x.shape[1]!;
  const shard = options.shard;
  const n = shard?.total ?? x.shape[0]!;
  const metric: Metric = params.spherical ? 'innerProduct' : 'l2';
  const finish = (c: Tensor): Tensor => (params.spherical ? normalizeRows(c) : c);
  let centroids = torch.tidy(() => {
    const initial = randPerm(n, seed).subarray(0, k);
    return finish(shard ? gatherRows(x, initial, shard) : torch.indexSelect(x, 0, rowIndex(initial, x.device)));
  });
  const signs = [1 + EPS, 1 - EPS].map((even) => {
    const factors = Float32Array.from({ length: d }, (_, j) => (j % 2 === 0 ? even : 2 - even));
    return torch.tensor(factors, { device: x.device });
  }) as [Tensor, Tensor];
  // The training rows do not change: their squared norms are computed once, chunk by chunk.
  const rowNorms = torch.tidy(() => {
    if (metric !== 'l2') return null;
    const here = x.shape[0]!;
    const norms = torch.empty([here], { device: x.device });
    for (let first = 0; first < here; first += rows) {
      const length = Math.min(rows, here - first);
      torch.tidy(() => torch.narrow(norms, 0, first, length).copy_(squaredNorms(torch.narrow(x, 0, first, length))));
    }
    return norms;
  });
  let pruned: IncrementalAssignment | null = null;
  const iterations: IterationStats[] = [];
  const start = performance.now();
  let searchMs = 0;
  try {
    const precision = options.precision ?? 'float32';
    if (metric === 'l2' && precision === 'float32' && (options.pruning ?? true))
      pruned = boundedAssignment(x, rowNorms!, rows, k, options);
    for (let iteration = 0; iteration < params.niter; iteration++) {
      const next = torch.tidy(() => {
        const searchStart = performance.now();
        const local =
          pruned === null
            ? searchAll(x, centroids, metric, rowNorms, rows, precision)
            : searchPruned(pruned, x, rowNorms!, centroids, rows);
        const { sums, counts, objective, searched } = shard ? sumOverShards(local, shard) : local;
        searchMs += performance.now() - searchStart;
        const sizes = Float32Array.from(counts.toArray());
        const imbalance = imbalanceFactor(sizes);
        // Empty clusters keep a zero sum; FAISS leaves them at zero before splitting too. FAISS
        // multiplies by the float reciprocal of the size rather than dividing.
        const updated = sums.mul(torch.reciprocal(counts.clamp(1).to('float32')).unsqueeze(1));
        const nsplit = splitEmptyClusters(updated, sizes, n, signs);
        const stats: IterationStats = {
          objective,
          time: (performance.now() - start) / 1000,
          timeSearch: searchMs / 1000,
          imbalanceFactor: imbalance,
          nsplit,
          searched,
          // This rank's rows only, when the rows are sharded.
          ...(local.rechecked !== undefined ? { rechecked: local.rechecked } : {}),
        };
        return { centroids: finish(updated), stats };
      });
      centroids.dispose();
      centroids = next.centroids;
      iterations.push(next.stats);
      options.onIteration?.(next.stats);
    }
  } catch (error) {
    centroids.dispose();
    throw error;
  } finally {
    signs.forEach((t) => t.dispose());
    pruned?.dispose();
    rowNorms?.dispose();
  }
  return { centroids, iterations };
}

/**
 * Clusters the rows of `x` (N x d float32, CPU or CUDA) into `k` clusters as faiss.Kmeans(d, k,
 * niter=..., seed=...).train(x) does. Deterministic for a given seed on CPU.
 */
export function kmeans(x: Tensor, k: number, options: KMeansOptions = {}): KMeansResult {
  checkFeatures(x);
  const shard = options.shard;
  if (shard !== undefined && shard.positions.length !== x.shape[0])
    throw new Error(`kmeans: the shard names ${shard.positions.length} positions for ${x.shape[0]} rows`);
  const n = shard?.total ?? x.shape[0]!;
  checkClusterCount(n, k);
  const params = resolveKMeansParams(options);
  const warn = options.warn ?? console.warn;
  const precisionWarning = params.spherical ? null : reducedPrecisionWarning(options.precision ?? 'float32', x.device);
  if (precisionWarning !== null) warn(precisionWarning);
  return torch.tidy(() => {
    const rows = chunkRows(k, options, x.device);
    checkFinite(x, rows);
    // A shard is already (part of) the training set: its caller drew FAISS's sample over all ranks.
    const sample = shard ? null : trainingSample(n, k, params);
    let train = x.isContiguous() ? x : x.contiguous();
    if (sample !== null) {
      train = torch.indexSelect(x, 0, rowIndex(sample, x.device));
    } else if (n < k * params.minPointsPerCentroid) {
      warn(
        `clustering ${n} points to ${k} centroids: FAISS suggests at least ${k * params.minPointsPerCentroid} ` +
          `training points (${params.minPointsPerCentroid} per centroid) for stable centroids`,
      );
    }
    const trainingPoints = shard?.total ?? train.shape[0]!;
    if (trainingPoints === k) {
      // FAISS's corner case: the points are the centroids, with one empty iteration of stats.
      const stats = { objective: 0, time: 0, timeSearch: 0, imbalanceFactor: 1, nsplit: 0 };
      const all = shard
        ? gatherRows(
            train,
            Int32Array.from({ length: k }, (_, i) => i),
            shard,
          )
        : train.clone();
      return { centroids: all, objective: [0], iterations: [stats], trainingPoints };
    }
    let best: Run | undefined;
    for (let redo = 0; redo < params.nredo; redo++) {
      const run = runOnce(train, k, params, params.seed + 1 + redo * 15486557, rows, options);
      const last = run.iterations.at(-1)?.objective ?? 0;
      const bestLast = best?.iterations.at(-1)?.objective ?? 0;
      const better = best === undefined || (params.spherical ? last > bestLast : last < bestLast);
      if (better) {
        best?.centroids.dispose();
        best = run;
      } else {
        run.centroids.dispose();
      }
    }
    const { centroids, iterations } = best!;
    return { centroids, objective: iterations.map((s) => s.objective), iterations, trainingPoints };
  });
}
