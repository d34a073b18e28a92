// Lloyd's assignment step with one lower bound per point and centroid (Elkan, "Using the triangle
// inequality to accelerate k-means", ICML 2003), for the squared-L2 k-means FAISS runs.
//
// pruned.ts keeps one lower bound per point, for all other centroids at once; every iteration it
// drops by the largest move of any centroid, and on real features, where some centroid always
// moves far, it proves almost nothing at K <= 1,000 (90-95% of the points searched each iteration
// on 2048-d ResNet-50 features). Here each point keeps a bound per centroid, lowered only by that
// centroid's own move: the distances the bounds cannot rule out fell to 1-6% of all point-centroid
// pairs after the first iterations on those features. The price is memory, N x K floats, so
// kmeans.ts uses this class only while they fit its budget, and pruned.ts beyond it.
//
// Each update: every point's distance to its own centroid is computed (N dot products, cheap);
// each bound is lowered by its centroid's move and the pairs whose bound does not clear the
// point's own distance (with room for rounding, below) listed, in one pass (`findAtMost_`); those
// pairs are computed exactly with `pairDots` (a sampled GEMM: only those pairs), their bounds set
// to the exact distances, and each point takes the nearest of its own centroid and its pairs.
// Chunks with many pairs in doubt are searched with a GEMM instead (see PAIR_LIMIT).
//
// Rounding. A squared distance formed as ||x||^2 + ||c||^2 - 2 x.c in float32 is off by at most
// about e = d 2^-24 (||x||^2 + ||c||^2); four times that, with every centroid norm bounded by the
// largest row norm R (a centroid is a mean of rows), is s = d 2^-22 (||x||^2 + R^2). A stored
// distance sqrt(D') is then at most sqrt(s) above the truth, and the own distance at most
// sqrt(U'^2 + s). Each float subtraction of a move may round up by 2^-24 of a value at most 2R
// (a distance, or a move), so after t updates a bound may sit t 2^-23 R too high. A pair is ruled
// out only when its bound exceeds sqrt(U'^2 + s) + sqrt(s) + t 2^-23 R, nudged up by 2^-20 for the
// rounding of that sum: the full search can then only differ on a tie within its own rounding.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { prepareCentroids, squaredDistancesInto, type PreparedCentroids } from './assign.js';

const ROUNDING = 2 ** -22;
const UPWARD = 1 + 2 ** -20;

// Above this share of a chunk's pairs in doubt, the chunk is searched with one GEMM: on the 2-core
// benchmark VM at d = 2048 the GEMM computes about 49 M pairs/s and pairDots 15-21 M pairs/s, and
// the pairs also cost their listing and scattered writes, so past about a quarter of the pairs the
// GEMM is the cheaper way to get them.
const PAIR_LIMIT = 1 / 4;

/** What `update` needs from a per-row assignment that follows moving centroids (pruned.ts too). */
export interface IncrementalAssignment {
  /** Nearest centroid of each row (int64, N). */
  readonly labels: Tensor;
  /** Brings `labels` to the nearest of `centroids`; returns the distances computed, in rows' worth
   * (pairs / K, rounded up). */
  update(centroids: Tensor): number;
  dispose(): void;
}

/** Bytes the bounds of `n` rows and `k` centroids take. */
export function elkanBytes(n: number, k: number): number {
  return n * k * 4;
}

export class ElkanAssignment implements IncrementalAssignment {
  readonly labels: Tensor;
  /** N x K: at most each row's distance to each centroid. */
  private readonly lower: Tensor;
  private readonly rowIndex: Tensor;
  /** d 2^-22 (||x||^2 + R^2) per row: s of the rounding argument. */
  private readonly slack: Tensor;
  private readonly maxRowNorm: number;
  private previous: Tensor | null = null;
  private updates = 0;

  /**
   * `x`: the rows (N x d float32, CPU); `rowNorms`: their squared norms; `rows`: rows per chunk
   * (each chunk's rows x K distance block must fit memory); `k`: centroids. `x` and `rowNorms`
   * stay owned by the caller and must outlive this object.
   */
  constructor(
    private readonly x: Tensor,
    private readonly rowNorms: Tensor,
    private readonly rows: number,
    k: number,
  ) {
    const [n, d] = x.shape as [number, number];
    this.labels = torch.keep(torch.zeros([n], { dtype: 'int64' }));
    this.lower = torch.keep(torch.empty([n, k]));
    this.rowIndex = torch.keep(torch.arange(0, n, 1, { dtype: 'int64' }));
    const largest = torch.tidy(() => rowNorms.max().item());
    this.maxRowNorm = Math.sqrt(largest);
    this.slack = torch.keep(torch.tidy(() => rowNorms.add(largest).mul(d * ROUNDING)));
  }

  update(centroids: Tensor): number {
    return torch.tidy(() => {
      const prepared = prepareCentroids(centroids, 'l2');
      const k = centroids.shape[0]!;
      const computed = this.previous === null ? this.searchAll(prepared) : this.searchInDoubt(centroids, prepared);
      this.previous?.dispose();
      this.previous = torch.keep(centroids.clone());
      this.updates++;
      return Math.ceil(computed / k);
    });
  }

  /** The first update: every distance, by GEMM. Returns the pairs computed. */
  private searchAll(prepared: PreparedCentroids): number {
    const n = this.x.shape[0]!;
    for (let first = 0; first < n; first += this.rows) {
      torch.tidy(() => this.searchChunk(prepared, first, Math.min(this.rows, n - first)));
    }
    return n * this.lower.shape[1]!;
  }

  /** Every distance of rows first..first+length by GEMM, straight into their bounds: exact
   * bounds and labels. */
  private searchChunk(prepared: PreparedCentroids, first: number, length: number): void {
    const lower = torch.narrow(this.lower, 0, first, length);
    squaredDistancesInto(
      lower,
      torch.narrow(this.x, 0, first, length),
      prepared,
      torch.narrow(this.rowNorms, 0, first, length),
    );
    // Clamped first, as FAISS does: ties at 0 go to the lowest centroid index.
    torch.narrow(this.labels, 0, first, length).copy_(torch.minDim(lower.clamp_(0), 1).indices);
    lower.sqrt_();
  }

  /** The later updates (see the top of this file). Returns the pairs computed. */
  private searchInDoubt(centroids: Tensor, prepared: PreparedCentroids): number {
    const [n, k] = this.lower.shape as [number, number];
    const moved = centroids.sub(this.previous!).norm(2, 1);
    const centroidNorms = prepared.norms!.squeeze(0);
    // Every row's own distance, exactly, and the bound a pair must clear to be ruled out.
    const ownSquared = this.rowNorms
      .add(torch.indexSelect(centroidNorms, 0, this.labels))
      .sub_(torch.pairDots(this.x, centroids, this.rowIndex, this.labels), 2)
      .clamp_(0);
    const rootSlack = this.slack.sqrt();
    const threshold = ownSquared
      .add(this.slack)
      .sqrt()
      .add_(rootSlack)
      .add_(this.updates * 2 ** -23 * this.maxRowNorm)
      .mul_(UPWARD);
    let computed = n;
    for (let first = 0; first < n; first += this.rows) {
      computed += torch.tidy(() => {
        const length = Math.min(this.rows, n - first);
        const lower = torch.narrow(this.lower, 0, first, length);
        const labels = torch.narrow(this.labels, 0, first, length);
        // Lowers the chunk's bounds by their centroids' moves and lists the pairs still in doubt.
        const pairs = torch.findAtMost_(lower, moved, torch.narrow(threshold, 0, first, length), labels);
        const count = pairs.shape[0]!;
        if (count > PAIR_LIMIT * length * k) {
          this.searchChunk(prepared, first, length);
          return length * k;
        }
        const own = torch.narrow(ownSquared, 0, first, length).sqrt();
        torch.indexCopy_(lower.view(-1), 0, torch.narrow(this.rowIndex, 0, 0, length).mul(k).add_(labels), own);
        if (count > 0) labels.copy_(this.nearest(lower, pairs, centroids, centroidNorms, first));
        return count;
      });
    }
    return computed;
  }

  /**
   * The new labels of a chunk (rows first.. of x; `lower` its bounds, with the own distances
   * already exact), given its pairs in doubt as flat indices into `lower` (row * K + centroid):
   * each pair's distance is computed and stored as its bound; then every bound left is above the
   * own distance, so the row minimum of the bounds is the nearest centroid (ties to the lowest
   * index, FAISS's order).
   */
  private nearest(lower: Tensor, pairs: Tensor, centroids: Tensor, centroidNorms: Tensor, first: number): Tensor {
    const k = centroids.shape[0]!;
    const row = pairs.div(k, 'floor');
    const column = pairs.sub(row.mul(k));
    const rowInX = row.add_(first);
    const squared = torch
      .indexSelect(this.rowNorms, 0, rowInX)
      .add_(torch.indexSelect(centroidNorms, 0, column))
      .sub_(torch.pairDots(this.x, centroids, rowInX, column), 2)
      .clamp_(0);
    torch.indexCopy_(lower.view(-1), 0, pairs, squared.sqrt());
    return torch.minDim(lower, 1).indices;
  }

  dispose(): void {
    for (const t of [this.labels, this.lower, this.rowIndex, this.slack]) t.dispose();
    this.previous?.dispose();
    this.previous = null;
  }
}
