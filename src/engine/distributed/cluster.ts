// k-means and the label assignment spread over the ranks, each rank holding only its block of the
// split: a contiguous block of the dataset's rows in the merged order of the feature files
// (ownedRows; loadFeatures reads just those rows), so no rank ever holds the whole feature matrix.
// What needs every row meets in float64 sums over the ranks:
//   - the PCA fit (PCA.fit's shard: count, sum of rows, centred X^T X);
//   - FAISS's training sample, drawn over the whole training set identically on every rank, of
//     which each rank keeps the sampled rows it holds; k-means then gathers the initial centroids
//     from the ranks that hold them and sums the per-iteration centroid totals (see KMeansShard);
//   - the labels and distances of every row, which each rank fills for its block (zero elsewhere)
//     before one sum, so every rank (and rank 0, which writes them) has all of them.
// One process holds every row and runs the one-process code unchanged.
import { assign, kmeans, trainingSample, type KMeansOptions, type KMeansResult } from '../../cluster/index.js';
import type { Assignment } from '../../cluster/assign.js';
import { indexSelect, narrow, tensor, tidy, zeros, type Tensor } from '../../torch/index.js';
import { rank, sumOverRanks, worldSize } from './ranks.js';

/** Rows [start, end) of `n` that `r` of `world` ranks owns. */
export function ownedRows(n: number, r = rank(), world = worldSize()): [number, number] {
  return [Math.floor((n * r) / world), Math.floor((n * (r + 1)) / world)];
}

/** Where a rank's rows sit in the split: its tensor holds rows [start, start + its rows) of `total`. */
export interface RowBlock {
  start: number;
  total: number;
}

function rowIndex(rows: Int32Array, device: string): Tensor {
  return tidy(() => tensor(rows).to('int64').to(device));
}

/**
 * `kmeans` of a split's training set, with every rank holding the block `block` of the split's
 * rows in `local`; the same result on each rank, that of one process holding every row. The
 * training set is the split's rows `training`, in that order (DATA_LIMIT's sample), or all of them.
 */
export function kmeansOnRanks(
  local: Tensor,
  block: RowBlock,
  k: number,
  options: KMeansOptions,
  training: Int32Array | null = null,
): KMeansResult {
  if (worldSize() === 1) {
    const x = training === null ? local : tidy(() => indexSelect(local, 0, rowIndex(training, local.device)));
    try {
      return kmeans(x, k, options);
    } finally {
      if (x !== local) x.dispose();
    }
  }
  const size = training?.length ?? block.total;
  const sample = trainingSample(size, k, options) ?? Int32Array.from({ length: size }, (_, i) => i);
  const end = block.start + local.shape[0]!;
  // Positions in FAISS's training set of the rows this rank holds, and where they are in `local`.
  const positions: number[] = [];
  const localRows: number[] = [];
  sample.forEach((member, position) => {
    const row = training === null ? member : training[member]!;
    if (row >= block.start && row < end) {
      positions.push(position);
      localRows.push(row - block.start);
    }
  });
  const mine = tidy(() => indexSelect(local, 0, rowIndex(Int32Array.from(localRows), local.device)));
  try {
    return kmeans(mine, k, {
      ...options,
      shard: { total: sample.length, positions: Int32Array.from(positions), sum: (t) => sumOverRanks(t) },
    });
  } finally {
    mine.dispose();
  }
}

/** Nearest centroid of every row of the split, each rank computing the block `local` it holds. */
export function assignOnRanks(local: Tensor, block: RowBlock, centroids: Tensor): Assignment {
  if (worldSize() === 1) return assign(local, centroids);
  const rows = local.shape[0]!;
  return tidy(() => {
    const labels = zeros([block.total], { dtype: 'int64', device: local.device });
    const distances = zeros([block.total], { dtype: 'float64', device: local.device });
    if (rows > 0) {
      const mine = assign(local, centroids);
      narrow(labels, 0, block.start, rows).copy_(mine.labels);
      narrow(distances, 0, block.start, rows).copy_(mine.distances);
    }
    sumOverRanks(labels);
    sumOverRanks(distances);
    return { labels, distances: distances.to('float32') };
  });
}
