// k-means over feature files larger than memory, as FAISS is used in VISSL: train on the
// (subsampled) training set held in memory, then assign every row while streaming the file.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { assign, type AssignOptions, type Assignment } from './assign.js';
import { trainingSample, type KMeansOptions } from './kmeans.js';

export interface StreamOptions {
  /** Rows read at once (default: about 256 MiB of features). */
  readRows?: number;
  /** Applied to each chunk of rows after it is read and flattened to N x d (normalisation, PCA). */
  transform?: (rows: Tensor) => Tensor;
  /** Where the rows go (default 'cpu'). */
  device?: string;
}

const READ_BUDGET = 256 * 1024 * 1024;

function readRowsPerChunk(reader: torch.io.NpyReader, options: StreamOptions): number {
  if (options.readRows !== undefined) return options.readRows;
  const rowBytes = 4 * reader.rowShape.reduce((a, b) => a * b, 1);
  return Math.max(1, Math.floor(READ_BUDGET / rowBytes));
}

/** Rows [start, end) of the file, flattened to 2-d, moved and transformed. */
function readChunk(reader: torch.io.NpyReader, start: number, end: number, options: StreamOptions, rows?: Tensor) {
  return torch.tidy(() => {
    let chunk = reader.read(start, end).flatten(1);
    if (rows !== undefined) chunk = torch.indexSelect(chunk, 0, rows);
    if (options.device !== undefined && options.device !== 'cpu') chunk = chunk.to(options.device);
    return options.transform ? options.transform(chunk) : chunk;
  });
}

/**
 * The training set k-means would use for the features in `reader`: every row when there are
 * at most k * maxPointsPerCentroid of them, otherwise FAISS's seeded sample, in FAISS's order
 * (so `kmeans` on the result starts from the centroids FAISS would pick). The file is read
 * sequentially, once.
 */
export function readTrainingSet(
  reader: torch.io.NpyReader,
  k: number,
  options: StreamOptions & Pick<KMeansOptions, 'seed' | 'maxPointsPerCentroid'> = {},
): Tensor {
  const n = reader.rows;
  const step = readRowsPerChunk(reader, options);
  const sample = trainingSample(n, k, options);
  return torch.tidy(() => {
    const pieces: Tensor[] = [];
    if (sample === null) {
      for (let start = 0; start < n; start += step)
        pieces.push(readChunk(reader, start, Math.min(n, start + step), options));
      return torch.cat(pieces);
    }
    const sorted = Int32Array.from(sample).sort();
    let next = 0;
    for (let start = 0; start < n && next < sorted.length; start += step) {
      const end = Math.min(n, start + step);
      const first = next;
      while (next < sorted.length && sorted[next]! < end) next++;
      if (next === first) continue;
      const local = Int32Array.from(sorted.subarray(first, next), (row) => row - start);
      pieces.push(readChunk(reader, start, end, options, torch.tensor(local).to('int64')));
    }
    // pieces hold the sample in row order; FAISS's order is the permutation's.
    const rank = new Map<number, number>();
    sorted.forEach((row, i) => rank.set(row, i));
    const order = Int32Array.from(sample, (row) => rank.get(row)!);
    const inRowOrder = torch.cat(pieces);
    return torch.indexSelect(inRowOrder, 0, torch.tensor(order).to('int64').to(inRowOrder.device));
  });
}

/** Assigns every row of the file to its nearest centroid, reading it chunk by chunk. */
export function assignNpy(
  reader: torch.io.NpyReader,
  centroids: Tensor,
  options: StreamOptions & AssignOptions = {},
): Assignment {
  const n = reader.rows;
  const step = readRowsPerChunk(reader, options);
  return torch.tidy(() => {
    const labels: Tensor[] = [];
    const distances: Tensor[] = [];
    for (let start = 0; start < n; start += step) {
      const part = torch.tidy(() =>
        assign(readChunk(reader, start, Math.min(n, start + step), options), centroids, options),
      );
      labels.push(part.labels);
      distances.push(part.distances);
    }
    return { labels: torch.cat(labels), distances: torch.cat(distances) };
  });
}
