// Nearest-centroid search with a reduced-precision GEMM whose answer is the float32 search's.
//
// The distance block is formed from inputs rounded to TF32 (10-bit mantissa: CUDA tensor cores at
// several times float32's rate) or bfloat16 (8 bits; the chunk is rounded, then multiplied with
// float32 accumulation and float32 output: on CUDA as a TF32 GEMM, in which bfloat16 values are
// exact, on CPU as a float32 GEMM). Rounding each input to unit roundoff u moves every product
// x_i c_i by at most (2u + u^2)|x_i c_i|, so a row's distance to centroid j moves by at most
//   2 (2u + u^2 + d 2^-24) ||x|| ||c_j||     (the last term: float32 accumulation, either path)
// and two centroids' distances by at most twice that. A row whose runner-up is further than that
// from its best cannot have another nearest centroid in float32: its label is final. Rows closer
// than that (true near-ties, and only those) are searched again in float32 against every centroid.
// The distance reported for each row is then recomputed in float32 to its chosen centroid, so the
// objective is the float32 one. Memory per chunk: the chunk x K block plus its top-2, as the
// float32 path.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { assignChunk, type Assignment, type PreparedCentroids } from './assign.js';

/** float32 (FAISS's arithmetic), or a faster GEMM with the near-ties searched again in float32. */
export type DistancePrecision = 'float32' | 'tf32' | 'bfloat16';

const UNIT_ROUNDOFF: Record<Exclude<DistancePrecision, 'float32'>, number> = {
  // TF32 keeps 10 mantissa bits; cuBLAS may truncate rather than round, hence 2^-10, not 2^-11.
  tf32: 2 ** -10,
  bfloat16: 2 ** -8,
};

export interface FastCentroids {
  precision: Exclude<DistancePrecision, 'float32'>;
  /** The centroids rounded to the precision's inputs, transposed (d x K), float32. */
  roundedT: Tensor;
  /** max_j ||c_j|| times the per-unit-norm error bound: a row's margin is this times ||x||. */
  marginPerNorm: number;
}

function roundInput(x: Tensor, precision: FastCentroids['precision']): Tensor {
  // TF32 rounding happens inside the GEMM; bfloat16 is rounded here, then exact in TF32/float32.
  return precision === 'bfloat16' ? x.to('bfloat16').float() : x;
}

/** Prepares the reduced-precision copy of the centroids (K x d float32). */
export function prepareFast(centroids: Tensor, precision: FastCentroids['precision']): FastCentroids {
  return torch.tidy(() => {
    const d = centroids.shape[1]!;
    const rounded = roundInput(centroids, precision);
    const u = UNIT_ROUNDOFF[precision];
    const maxNorm = Math.sqrt(centroids.square().sum(1).max().item());
    // Twice a row's error bound: the best and the runner-up can each move by it, in opposite ways.
    const marginPerNorm = 2 * 2 * (2 * u + u * u + d * 2 ** -24) * maxNorm;
    return { precision, roundedT: rounded.t().contiguous(), marginPerNorm };
  });
}

/** The GEMM of the fast path: TF32 tensor cores on CUDA, float32 elsewhere. */
function approximateDistances(x: Tensor, fast: FastCentroids, centroidNorms: Tensor): Tensor {
  return torch.tidy(() => {
    // ||x||^2 is the same for every centroid of a row: the argmin and the gap do not need it. The
    // centroids' norms are the float32 ones, so only the dot products carry the rounding.
    const distances = torch.empty([x.shape[0]!, fast.roundedT.shape[1]!], { device: x.device });
    distances.copy_(centroidNorms);
    const rows = roundInput(x, fast.precision);
    const gemm = () => torch.gemm_(distances, rows, fast.roundedT, { beta: 1, alpha: -2 });
    if (x.isCuda) torch.backends.withFlags({ allowTF32Matmul: true }, gemm);
    else gemm();
    return distances;
  });
}

/**
 * Assigns a chunk of rows (n x d) with the reduced-precision GEMM; `exact` are the float32
 * prepared centroids for the near-ties and the reported distances. `rechecked` counts the rows
 * searched again in float32.
 */
export function assignChunkFast(
  x: Tensor,
  exact: PreparedCentroids,
  fast: FastCentroids,
  rowNorms?: Tensor,
): Assignment & { rechecked: number } {
  return torch.tidy(() => {
    const norms = rowNorms ?? x.square().sum(1);
    const k = fast.roundedT.shape[1]!;
    let labels: Tensor;
    let rechecked = 0;
    if (k === 1) {
      labels = torch.zeros([x.shape[0]!], { dtype: 'int64', device: x.device });
    } else {
      const { values, indices } = torch.topk(approximateDistances(x, fast, exact.norms!), 2, {
        largest: false,
        sorted: true,
      });
      labels = torch.select(indices, 1, 0).contiguous();
      const gap = torch.select(values, 1, 1).sub(torch.select(values, 1, 0));
      const flagged = gap.le(norms.sqrt().mul(fast.marginPerNorm));
      rechecked = flagged.sum().item();
      if (rechecked > 0) {
        const rows = torch.nonzero(flagged).flatten();
        const again = assignChunk(torch.indexSelect(x, 0, rows), exact, torch.indexSelect(norms, 0, rows));
        torch.indexCopy_(labels, 0, rows, again.labels);
      }
    }
    // The float32 distance to the chosen centroid, formed as FAISS forms it and clamped at 0.
    const chosen = torch.indexSelect(exact.centroidsT.t(), 0, labels);
    const distances = norms
      .add(torch.indexSelect(exact.norms!.flatten(), 0, labels))
      .sub(x.mul(chosen).sum(1), 2)
      .clamp(0);
    return { labels, distances, rechecked };
  });
}
