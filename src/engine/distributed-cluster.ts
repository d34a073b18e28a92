// k-means and the label assignment spread over the ranks. Every rank holds the (prepared) features
// of the whole split; each computes only on the rows it owns, a contiguous block of the dataset's
// rows, and the results meet in sums over the ranks: per-iteration centroid totals inside kmeans
// (see KMeansShard), and the labels and distances of every row, which each rank fills for its block
// (zero elsewhere) before one sum. FAISS's training sample is drawn over all rows, as in one
// process, then split by the owner of each sampled row.
import { assign, kmeans, trainingSample, type KMeansOptions, type KMeansResult } from '../cluster/index.js';
import type { Assignment } from '../cluster/assign.js';
import { indexSelect, narrow, tensor, tidy, zeros, type Tensor } from '../torch/index.js';
import { rank, sumOverRanks, worldSize } from './distributed-ranks.js';

/** Rows [start, end) of `n` that `r` of `world` ranks owns. */
export function ownedRows(n: number, r = rank(), world = worldSize()): [number, number] {
  return [Math.floor((n * r) / world), Math.floor((n * (r + 1)) / world)];
}

/** `kmeans(x, k, options)` computed by every rank on its part of the training set; same result on each. */
export function kmeansOnRanks(x: Tensor, k: number, options: KMeansOptions): KMeansResult {
  if (worldSize() === 1) return kmeans(x, k, options);
  const n = x.shape[0]!;
  const sample = trainingSample(n, k, options) ?? Int32Array.from({ length: n }, (_, i) => i);
  const [start, end] = ownedRows(n);
  const positions = Int32Array.from([...sample.keys()].filter((i) => sample[i]! >= start && sample[i]! < end));
  const local = tidy(() =>
    indexSelect(
      x,
      0,
      tensor(Int32Array.from(positions, (i) => sample[i]!))
        .to('int64')
        .to(x.device),
    ),
  );
  try {
    return kmeans(local, k, {
      ...options,
      shard: { total: sample.length, positions, sum: (t) => sumOverRanks(t) },
    });
  } finally {
    local.dispose();
  }
}

/** Nearest centroid of every row of `x`, each rank computing its block. */
export function assignOnRanks(x: Tensor, centroids: Tensor): Assignment {
  if (worldSize() === 1) return assign(x, centroids);
  const n = x.shape[0]!;
  const [start, end] = ownedRows(n);
  return tidy(() => {
    const labels = zeros([n], { dtype: 'int64', device: x.device });
    const distances = zeros([n], { dtype: 'float64', device: x.device });
    if (end > start) {
      const mine = assign(narrow(x, 0, start, end - start), centroids);
      narrow(labels, 0, start, end - start).copy_(mine.labels);
      narrow(distances, 0, start, end - start).copy_(mine.distances);
    }
    sumOverRanks(labels);
    sumOverRanks(distances);
    return { labels, distances: distances.to('float32') };
  });
}
