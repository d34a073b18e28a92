// Nearest-centroid search with a reduced-precision GEMM whose answer is the float32 search's.
//
// The distance block is formed from inputs rounded to TF32 (10-bit mantissa: CUDA tensor cores at
// several times float32's rate) or bfloat16 (8 bits; the chunk is rounded, then multiplied with
// float32 accumulation and float32 output: on CUDA as a TF32 GEMM, in which bfloat16 values are
// exact, on CPU as a float32 GEMM). As in the float32 path, the GEMM accumulates -2 x.c_j into
// the float32 squared norm n_j (the very numbers the float32 search uses); ||x||^2, the same for
// every centroid of a row, is left out. So the block holds A_j, an approximation of the exact
// T_j = n_j - 2 x.c_j, and the float32 search ranks float32 roundings of ||x||^2 + T_j.
//
// The bound (rigorous, worst case). u is the inputs' unit roundoff: 2^-8 for bfloat16, 2^-10 for
// TF32 (cuBLAS may truncate rather than round; on CPU, where 'tf32' multiplies in float32, the
// same u is assumed so that a CPU run shows what a GPU run would recheck). w bounds one float32
// addition: 2^-24 on CPU, 2^-23 on CUDA, whose tensor cores' adders are reported to truncate.
// g = d w / (1 - d w). A rounded input is x_i (1 + a) with |a| <= u, so a product moves by at
// most (2u + u^2) |x_i c_i| and, by Cauchy-Schwarz, the dot product by (2u + u^2) ||x|| ||c_j||.
// Products of rounded inputs are exact in float32 (11 + 11 or 8 + 8 bits; an unrounded float32
// product on CPU errs by 2^-24, inside the 2u already counted). The GEMM then sums d + 1 terms,
// n_j and the d products times -2, in some order (blocked, split-K or not), and any order errs by
// at most g times the sum of the terms' magnitudes, g (n_j + 2 (1 + u)^2 ||x|| ||c_j||). So
//   |A_j - T_j| <= e ||x|| ||c_j|| + g n_j,   e = 2 (2u + u^2) + 2 g (1 + u)^2.
// The error scales with each centroid's own norm. Let b be a row's approximate best and
// C = max_j ||c_j||. For every j != b,
//   T_j - T_b >= (A_j - A_b) - e ||x|| (||c_b|| + ||c_j||) - g (n_b + n_j),
// so with r the approximate runner-up (A_j >= A_r for every j != b), T_b < T_j for all j != b
// as soon as
//   A_r - A_b > M = e ||x|| (||c_b|| + C) + g (n_b + C^2).
// Such a row's label is final: the float32 search can disagree only where its own rounding
// decides between two centroids (a true near-tie). ||x|| and ||c_b|| come from float32 squared
// norms, which may be low by a factor (1 - g), and the test is evaluated in float32: M is scaled
// by 1 / (1 - g) and by 1 + 2^-16, which covers both.
//
// The rows that are not final. Each row keeps its m approximate nearest centroids, sorted (m =
// CANDIDATES, at most K). A centroid j with A_j - A_b > M cannot be the nearest (the same
// argument with j in place of r), so only the candidates within M of the best, a prefix of the
// m, can hold it, provided every centroid outside the m is excluded too: they all have
// A_j >= A_m, so it is enough that the m-th itself lies beyond M (or that m = K). Such a row is
// rescored in float32 against its near candidates only: their centroids are gathered and the
// distances formed as the float32 path forms them, (||x||^2 + n_j) - 2 x.c_j, clamped at 0, the
// tie going to the lowest centroid index as in FAISS. Rows are rescored in widths 2, 4, 8 ...
// each in the narrowest that holds its near candidates, so the cost follows how many centroids
// are really tied rather than m. Only rows whose whole top-m lies within M of the best are
// searched again in float32 against every centroid. The distance reported for each row is then
// recomputed in float32 to its chosen centroid, so the objective is the float32 one.
//
// Memory per chunk: the chunk x K block plus its top-m, and (off CPU) a rescoring gather capped at
// the block's size. The counts of rows rescored and searched again are returned (the rest are final).
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { assignChunk, type Assignment, type PreparedCentroids } from './assign.js';

/** float32 (FAISS's arithmetic), or a faster GEMM with the near-ties rechecked in float32. */
export type DistancePrecision = 'float32' | 'tf32' | 'bfloat16';

const UNIT_ROUNDOFF: Record<Exclude<DistancePrecision, 'float32'>, number> = {
  // TF32 keeps 10 mantissa bits; cuBLAS may truncate rather than round, hence 2^-10, not 2^-11.
  tf32: 2 ** -10,
  bfloat16: 2 ** -8,
};
/** Bound on one float32 addition's relative error: round to nearest on a CPU; on CUDA twice that,
 * for tensor cores' adders, which are reported to truncate. */
const ADDITION_ROUNDOFF = { cpu: 2 ** -24, accelerator: 2 ** -23 };

// Approximate nearest centroids kept per row for the float32 rescoring, chosen by measurement
// (bench/cluster/fast-assign.ts, docs/gpu.md): on L2-normalised clustered features (20,000 x 2048,
// K = 1000) TF32's near-ties spanned at most 8 candidates and bfloat16's up to 16 (8 left half the
// rows to the full search); with 30 centroids per mode (the near-tie test) bfloat16's needed 32
// (16 left a third). Rows are rescored only as wide as their ties, so 32 costs mostly a wider top-k.
const CANDIDATES = 32;

export interface FastCentroids {
  precision: Exclude<DistancePrecision, 'float32'>;
  /** The centroids rounded to the precision's inputs, transposed (d x K), float32. */
  roundedT: Tensor;
  /** The centroids as given (K x d, float32, contiguous rows), for the float32 rescoring. */
  exactRows: Tensor;
  /** Candidates kept per row for the float32 rescoring (at most K). */
  candidates: number;
  /** max_j ||c_j||. */
  maxNorm: number;
  /** e of the bound (see above), safety factors included: the margin's ||x|| (||c_b|| + C) term. */
  perNormProduct: number;
  /** g of the bound, safety factor included: the margin's (n_b + C^2) term. */
  perSquaredNorm: number;
}

/** The rows that were not final from the top-2 gap: rescored among the top-m candidates, or
 * searched again in float32 against every centroid. */
export interface Rechecked {
  rescored: number;
  researched: number;
}

/**
 * The warning a reduced precision deserves on a CPU, or null where it can pay: libtorch has no TF32
 * on a CPU, and the bfloat16 rounding is followed by a float32 GEMM here (a bfloat16 product would
 * need a wider error bound, docs/benchmark-cpu.md), so the rounding and its float32 rechecks are
 * extra work on the same GEMM; k-means also gives up its bounds for it (measured on real ResNet-50
 * features: 0.44-0.56x FAISS, against 2.7-5.1x with float32, docs/benchmark-kmeans.md).
 */
export function reducedPrecisionWarning(precision: DistancePrecision, device: string): string | null {
  if (precision === 'float32' || device !== 'cpu') return null;
  return (
    `precision '${precision}' on a CPU: the distances are still multiplied in float32 here, so the rounding and ` +
    `its float32 rechecks only add work (and k-means searches every point instead of using its bounds); ` +
    `'float32', the default, gives the same labels faster`
  );
}

function roundInput(x: Tensor, precision: FastCentroids['precision']): Tensor {
  // TF32 rounding happens inside the GEMM; bfloat16 is rounded here, then exact in TF32/float32.
  return precision === 'bfloat16' ? x.to('bfloat16').float() : x;
}

/** Prepares the reduced-precision copy of the centroids (K x d float32); `candidates` is m. */
export function prepareFast(
  centroids: Tensor,
  precision: FastCentroids['precision'],
  candidates = CANDIDATES,
): FastCentroids {
  if (!(Number.isInteger(candidates) && candidates >= 2)) {
    throw new Error(`candidates must be an integer >= 2, got ${candidates}`);
  }
  return torch.tidy(() => {
    const [k, d] = centroids.shape as [number, number];
    const rounded = roundInput(centroids, precision);
    const u = UNIT_ROUNDOFF[precision];
    const w = centroids.device === 'cpu' ? ADDITION_ROUNDOFF.cpu : ADDITION_ROUNDOFF.accelerator;
    const g = (d * w) / (1 - d * w);
    const e = 2 * (2 * u + u * u) + 2 * g * (1 + u) ** 2;
    const safety = 1 + 2 ** -16;
    return {
      precision,
      roundedT: rounded.t().contiguous(),
      exactRows: centroids.contiguous(),
      candidates: Math.min(candidates, k),
      maxNorm: Math.sqrt(centroids.square().sum(1).max().item()),
      perNormProduct: (e / (1 - g)) * safety,
      perSquaredNorm: g * safety,
    };
  });
}

/** The GEMM of the fast path: TF32 tensor cores on CUDA, float32 elsewhere. */
function approximateDistances(x: Tensor, fast: FastCentroids, centroidNorms: Tensor): Tensor {
  return torch.tidy(() => {
    // ||x||^2 is the same for every centroid of a row: the argmin and the gaps do not need it. The
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
 * The float32 nearest of the candidates (n x m centroid indices) of rows `rows` of x: distances
 * formed as the float32 search forms them, (||x||^2 + ||c||^2) - 2 x.c, clamped at 0, ties to
 * the lowest centroid index. Each row's dot products with its candidates are `pairDots`, which
 * sums every pair in the same order whatever its neighbours (a batched GEMM's kernels may treat
 * the candidates of a row differently, at edge tiles): two copies of a centroid get the very same
 * distance, so the tie goes to the lower index as in the float32 search. On CPU it computes the
 * pairs in place; on other devices it gathers them, at most `budget` floats at a time.
 */
function rescore(
  x: Tensor,
  rowNorms: Tensor,
  rows: Tensor,
  candidates: Tensor,
  fast: FastCentroids,
  exact: PreparedCentroids,
  budget: number,
): Tensor {
  return torch.tidy(() => {
    const [n, m] = candidates.shape as [number, number];
    const centroidNorms = exact.norms!.flatten();
    const step = x.device === 'cpu' ? n : Math.max(1, Math.floor(budget / (m * x.shape[1]!)));
    const labels = torch.empty([n], { dtype: 'int64', device: x.device });
    for (let first = 0; first < n; first += step) {
      const length = Math.min(step, n - first);
      torch.tidy(() => {
        const which = torch.narrow(candidates, 0, first, length);
        const some = torch.narrow(rows, 0, first, length);
        const pairRows = some.unsqueeze(1).expand(length, m).reshape(-1);
        const dots = torch.pairDots(x, fast.exactRows, pairRows, which.reshape(-1)).view(length, m);
        const distances = torch
          .indexSelect(rowNorms, 0, some)
          .unsqueeze(1)
          .add(torch.indexSelect(centroidNorms, 0, which.flatten()).view(length, m))
          .sub(dots, 2)
          .clamp(0);
        const nearest = torch.minDim(distances, 1, true).values;
        const lowest = torch.maskedFill(which, distances.ne(nearest), fast.exactRows.shape[0]!);
        torch.narrow(labels, 0, first, length).copy_(torch.minDim(lowest, 1).values);
      });
    }
    return labels;
  });
}

/**
 * Assigns a chunk of rows (n x d) with the reduced-precision GEMM; `exact` are the float32
 * prepared centroids for the rechecks and the reported distances. `rechecked` counts the rows
 * that the top-2 gap did not settle (the rest, n minus both counts, are final).
 */
export function assignChunkFast(
  x: Tensor,
  exact: PreparedCentroids,
  fast: FastCentroids,
  rowNorms?: Tensor,
): Assignment & { rechecked: Rechecked } {
  return torch.tidy(() => {
    const n = x.shape[0]!;
    const norms = rowNorms ?? x.square().sum(1);
    const k = fast.roundedT.shape[1]!;
    const centroidNorms = exact.norms!.flatten();
    let labels: Tensor;
    const rechecked = { rescored: 0, researched: 0 };
    if (k === 1) {
      labels = torch.zeros([n], { dtype: 'int64', device: x.device });
    } else {
      const m = fast.candidates;
      const { values, indices } = torch.topk(approximateDistances(x, fast, exact.norms!), m, {
        largest: false,
        sorted: true,
      });
      labels = torch.select(indices, 1, 0).contiguous();
      const best = torch.select(values, 1, 0);
      const bestNorms = torch.indexSelect(centroidNorms, 0, labels);
      const margin = norms
        .sqrt()
        .mul(bestNorms.sqrt().add(fast.maxNorm))
        .mul(fast.perNormProduct)
        .add(bestNorms.add(fast.maxNorm ** 2).mul(fast.perSquaredNorm));
      // The candidates within the margin of the best, itself included: a prefix, the values being
      // sorted. One is a final row; only these can hold the nearest centroid, unless all m are.
      const near = values.sub(best.unsqueeze(1)).le(margin.unsqueeze(1)).sum(1);
      // With m = K no centroid lies outside the candidates; otherwise the m-th must be beyond.
      const cap = m === k ? m : m - 1;
      const which = (low: number, high: number): Tensor =>
        torch.nonzero(torch.logicalAnd(near.gt(low), near.le(high))).flatten();
      if (torch.any(near.gt(1)).item()) {
        // Rescored in widths 2, 4, 8 ... cap, each row in the narrowest that holds its near
        // candidates: the cost follows how many centroids are really tied, not m.
        for (let low = 1; low < cap; low = Math.min(2 * low, cap)) {
          const width = Math.min(2 * low, cap);
          const rows = which(low, width);
          const count = rows.shape[0]!;
          if (count === 0) continue;
          rechecked.rescored += count;
          const chosen = rescore(
            x,
            norms,
            rows,
            torch.narrow(torch.indexSelect(indices, 0, rows), 1, 0, width),
            fast,
            exact,
            n * k,
          );
          torch.indexCopy_(labels, 0, rows, chosen);
        }
        const rows = which(cap, m);
        rechecked.researched = rows.shape[0]!;
        if (rechecked.researched > 0) {
          const again = assignChunk(torch.indexSelect(x, 0, rows), exact, torch.indexSelect(norms, 0, rows));
          torch.indexCopy_(labels, 0, rows, again.labels);
        }
      }
    }
    // The float32 distance to the chosen centroid, formed as FAISS forms it and clamped at 0.
    const chosen = torch.indexSelect(exact.centroidsT.t(), 0, labels);
    const distances = norms
      .add(torch.indexSelect(centroidNorms, 0, labels))
      .sub(x.mul(chosen).sum(1), 2)
      .clamp(0);
    return { labels, distances, rechecked };
  });
}
