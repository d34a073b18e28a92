// Nearest-centroid assignment, chunked: each chunk of rows costs one GEMM against the centroids,
// so memory stays O(chunk x K + K x d) and an N x K distance matrix never exists.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { assignChunkFast, prepareFast, type DistancePrecision } from './fast-assign.js';

/** 'l2': squared Euclidean distance, smallest wins (FAISS IndexFlatL2). 'innerProduct': largest
 * dot product wins (FAISS IndexFlatIP, what faiss.Kmeans searches with in spherical mode). */
export type Metric = 'l2' | 'innerProduct';

export interface AssignOptions {
  /** Rows per distance chunk; by default as many as fit `memoryBudget`. */
  chunkSize?: number;
  /** Bytes the chunk x K distance matrix may take when `chunkSize` is not given (default 16 MiB
   * on CPU, 1 GiB on an accelerator). */
  memoryBudget?: number;
  metric?: Metric;
  /**
   * 'float32' (default) computes distances as FAISS does; 'tf32' and 'bfloat16' run the GEMM on
   * rounded inputs (TF32 tensor cores on CUDA) and recheck the near-ties in float32, so the
   * labels are the float32 search's (see fast-assign.ts). L2 only: inner products stay float32.
   * On a CPU the GEMM stays float32, so a reduced precision is extra work there (fast-assign.ts's
   * reducedPrecisionWarning).
   */
  precision?: DistancePrecision;
}

export interface Assignment {
  /** Index of the nearest centroid of each row (int64, N). */
  labels: Tensor;
  /** Squared L2 distance to it (or the inner product for 'innerProduct'), float32, N. */
  distances: Tensor;
}

// Big enough for GEMMs at full speed, small enough that the chunk's temporaries stay far below
// the features' own size. On CPU the distance block is written by the GEMM and read back by the
// argmin, so it should stay in the last-level cache: 16 MiB ran k-means 10-30% faster than
// 64 MiB on the 2-core benchmark machine (bench/cluster/kmeans.ts --chunk-size). On a GPU the
// GEMM needs thousands of rows to reach tensor-core speed: 1 GiB is 16,777 rows at K = 16,000
// (IN1K: 77 chunks per iteration), a tenth of the 10.5 GB of features, far inside 80 GB.
const DEFAULT_MEMORY_BUDGET = { cpu: 16 * 1024 * 1024, accelerator: 1024 * 1024 * 1024 };

/** Rows per chunk so that one chunk x k float32 distance block fits `memoryBudget` bytes (by
 * default a budget suited to `device`). */
export function chunkRows(
  k: number,
  options: Pick<AssignOptions, 'chunkSize' | 'memoryBudget'> = {},
  device = 'cpu',
): number {
  if (options.chunkSize !== undefined) {
    if (!(Number.isInteger(options.chunkSize) && options.chunkSize > 0)) {
      throw new Error(`chunkSize must be a positive integer, got ${options.chunkSize}`);
    }
    return options.chunkSize;
  }
  const budget =
    options.memoryBudget ?? (device === 'cpu' ? DEFAULT_MEMORY_BUDGET.cpu : DEFAULT_MEMORY_BUDGET.accelerator);
  return Math.max(1, Math.floor(budget / (4 * k)));
}

/** Checks that `x` is an N x d float32 matrix; `what` names it in the error. */
export function checkFeatures(x: Tensor, what = 'features'): [number, number] {
  const shape = x.shape;
  if (shape.length !== 2 || x.dtype !== 'float32') {
    throw new Error(
      `${what} must be a 2-d float32 tensor (N x d), got ${x.dtype} of shape [${shape.join(', ')}]; flatten and convert with .reshape(N, -1).float()`,
    );
  }
  return shape as [number, number];
}

/**
 * Squared norms of the centroids and their transpose, computed once per set of centroids and
 * shared by every chunk.
 */
export interface PreparedCentroids {
  centroidsT: Tensor;
  /** ||c||^2 as a 1 x K row (l2 only). */
  norms: Tensor | null;
  metric: Metric;
}

export function prepareCentroids(centroids: Tensor, metric: Metric = 'l2'): PreparedCentroids {
  return torch.tidy(() => ({
    centroidsT: centroids.t(),
    norms: metric === 'l2' ? centroids.square().sum(1).unsqueeze(0) : null,
    metric,
  }));
}

/** ||x||^2 of each row (n). */
export function squaredNorms(x: Tensor): Tensor {
  return torch.tidy(() => x.square().sum(1));
}

/**
 * `gemm` in float32 even where the process allows TF32 for matrix products
 * (MACHINE.ALLOW_TF32_MATMUL): this search is the float32 one that the fast path's labels must
 * equal, so on CUDA it must not silently run on TF32 tensor cores.
 */
export function float32Gemm<T>(x: Tensor, gemm: () => T): T {
  return x.isCuda ? torch.backends.withFlags({ allowTF32Matmul: false }, gemm) : gemm();
}

/** The chunk's squared distances to every centroid (n x K, l2 only), formed as FAISS forms them:
 * (||x||^2 + ||c||^2) - 2 x c^T, the GEMM accumulating into the norm sum. Not clamped. */
export function squaredDistances(x: Tensor, prepared: PreparedCentroids, rowNorms?: Tensor): Tensor {
  const distances = torch.empty([x.shape[0]!, prepared.centroidsT.shape[1]!], { device: x.device });
  squaredDistancesInto(distances, x, prepared, rowNorms);
  return distances;
}

/** squaredDistances written into `out` (n x K, contiguous), which spares a block when the
 * caller keeps the distances anyway. */
export function squaredDistancesInto(out: Tensor, x: Tensor, prepared: PreparedCentroids, rowNorms?: Tensor): void {
  torch.tidy(() => {
    out.copy_((rowNorms ?? squaredNorms(x)).unsqueeze(1)).add_(prepared.norms!);
    float32Gemm(x, () => torch.gemm_(out, x, prepared.centroidsT, { beta: 1, alpha: -2 }));
  });
}

/**
 * Assigns one chunk of rows: `x` (n x d) against prepared centroids. The l2 distance is formed
 * as FAISS forms it, (||x||^2 + ||c||^2) - 2 x c^T with the GEMM accumulating into the norm sum,
 * and clamped at 0 before the argmin as FAISS does: rounding can make the distance of a point
 * to a copy of itself slightly negative, and FAISS then gives such ties to the lowest centroid
 * index, which decides where duplicated points go and which clusters come out empty.
 * `rowNorms` (||x||^2 of the chunk's rows) can be passed when the same rows are assigned again.
 * With `second`, also the runner-up's distance (what pruned k-means keeps as a lower bound).
 */
export function assignChunk(
  x: Tensor,
  prepared: PreparedCentroids,
  rowNorms?: Tensor,
  options: { second?: boolean } = {},
): Assignment & { second?: Tensor } {
  return torch.tidy(() => {
    if (prepared.norms === null) {
      const scores = float32Gemm(x, () => torch.mm(x, prepared.centroidsT));
      const { values, indices } = torch.maxDim(scores, 1);
      return { labels: indices, distances: values, ...secondBest(scores, indices, options.second, true) };
    }
    const distances = squaredDistances(x, prepared, rowNorms);
    // The clamp changes the argmin only on rows whose minimum is <= 0, which are rare (duplicated
    // points): take the minimum first and clamp the block only when such a row exists, which
    // spares a pass over chunk x K in the common case.
    let { values, indices } = torch.minDim(distances, 1);
    if (torch.any(values.le(0)).item()) ({ values, indices } = torch.minDim(distances.clamp_(0), 1));
    return { labels: indices, distances: values, ...secondBest(distances, indices, options.second, false) };
  });
}

/**
 * The second-best value of each row, given the best one's index: the best is overwritten (the
 * scores are a scratch block) and the best of the rest taken, two linear passes where topk(2)
 * sorts every row. +/-Infinity when there is a single centroid.
 */
function secondBest(scores: Tensor, best: Tensor, wanted: boolean | undefined, largest: boolean): { second?: Tensor } {
  if (!wanted) return {};
  const worst = largest ? -Infinity : Infinity;
  torch.scatterValue_(scores, 1, best.unsqueeze(1), worst);
  return { second: largest ? torch.maxDim(scores, 1).values : torch.minDim(scores, 1).values };
}

/** Assigns every row of `x` (N x d, float32, CPU or CUDA) to its nearest centroid (K x d). */
export function assign(x: Tensor, centroids: Tensor, options: AssignOptions = {}): Assignment {
  const [n, d] = checkFeatures(x);
  const [k, dc] = checkFeatures(centroids, 'centroids');
  if (d !== dc) {
    throw new Error(`features have ${d} dimensions but the centroids have ${dc}; apply the same PCA to both`);
  }
  const rows = chunkRows(k, options, x.device);
  return torch.tidy(() => {
    const prepared = prepareCentroids(centroids, options.metric);
    const precision = options.precision ?? 'float32';
    const fast = precision !== 'float32' && prepared.norms !== null ? prepareFast(centroids, precision) : null;
    const search = (rows: Tensor): Assignment =>
      fast === null ? assignChunk(rows, prepared) : assignChunkFast(rows, prepared, fast);
    if (n <= rows) return search(x);
    const labels = torch.empty([n], { dtype: 'int64', device: x.device });
    const distances = torch.empty([n], { device: x.device });
    for (let start = 0; start < n; start += rows) {
      const length = Math.min(rows, n - start);
      torch.tidy(() => {
        const part = search(torch.narrow(x, 0, start, length));
        torch.narrow(labels, 0, start, length).copy_(part.labels);
        torch.narrow(distances, 0, start, length).copy_(part.distances);
      });
    }
    return { labels, distances };
  });
}
