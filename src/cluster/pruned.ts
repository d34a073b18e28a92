// Lloyd's assignment step without most of its distance computations (Hamerly, "Making k-means
// even faster", SDM 2010), for the squared-L2 k-means FAISS runs.
//
// An iteration of plain k-means compares every point with every centroid: one N x K x d GEMM,
// nearly all of its time. But as the centroids settle, a point far closer to its own centroid
// than to any other cannot change cluster. Each point keeps two bounds (distances, not squared):
//   - upper: at least its distance to its own centroid: exact when last computed, then raised
//     by how far that centroid moved since;
//   - lower: at most its distance to every other centroid: the runner-up's distance when the
//     point was last searched, then lowered by the largest move of any other centroid since
//     (triangle inequality: no centroid can have come closer than it moved). The few centroids
//     that moved most each iteration are measured exactly against every point instead (a thin
//     GEMM), so that they do not drag every bound down.
// A point with upper < lower keeps its label untouched. For the others the exact distance to
// their own centroid is computed (O(d) each) and the test repeated; only the points still in
// doubt are compared with all centroids, gathered into chunks so each still costs one GEMM. The
// labels are those of the full search: only exact ties within float rounding could differ,
// which is why the test keeps a margin for rounding (see ROUNDING).
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { assignChunk, prepareCentroids, squaredDistances, type PreparedCentroids } from './assign.js';

// A squared distance formed as ||x||^2 + ||c||^2 - 2 x.c in float32 is off by at most about
// d * 2^-24 * (||x||^2 + ||c||^2) (each of the d products and sums rounds once). A point is
// skipped only when its margin beats four times that, so that a skip never decides a case the
// full search could have decided the other way by rounding.
const ROUNDING = 2 ** -22;
// The upper bounds grow by float additions, each of which may round down: they are nudged up by
// this relative amount per iteration so that they stay bounds.
const UPWARD = 1 + 2 ** -20;

// Above this share of rows in doubt once the bounds have moved, an adaptive update searches every
// row in place instead of tightening the doubtful ones first: tightening gathers each doubtful row
// and its centroid (two copies of d floats) to prove a few of them, and the rows still in doubt are
// gathered again for their search, so when most rows are in doubt those copies cost more than the
// search they spare (real ResNet-50 features at K = 100: a pruned update took 3.3 full searches'
// time). Searching every row gives the same labels and exact bounds.
const TIGHTEN_LIMIT = 1 / 2;

// The share of the centroids measured exactly against every point each iteration because they
// moved most (see moveBounds): costs that share of a full search, and on real features
// (CIFAR-10 ResNet-56, K = 1000) cut the points left to search over 20 iterations from about 90%
// to about 60%.
const MOVERS_SHARE = 1 / 16;

/**
 * The nearest-centroid assignment of a fixed set of rows (the k-means training set) to
 * centroids that move every iteration. `update(centroids)` brings `labels` to what a full search
 * against `centroids` gives, searching only the rows whose bounds cannot prove their label
 * unchanged.
 */
export class PrunedAssignment {
  /** Nearest centroid of each row (int64, N). */
  readonly labels: Tensor;
  private readonly upper: Tensor;
  private readonly lower: Tensor;
  /** The centroids of the last update, to measure how far each moved since. */
  private previous: Tensor | null = null;
  /** Seconds the last full search took, and the policy's state (see choosePolicy). */
  private fullSeconds = Infinity;
  private fullSearchesLeft = 0;
  private backoff = 1;

  /**
   * `x`: the rows (N x d float32); `rowNorms`: their squared norms; `rows`: rows per distance
   * chunk (each chunk's rows x K distance block must fit memory). `x` and `rowNorms` stay owned
   * by the caller and must outlive this object.
   */
  constructor(
    private readonly x: Tensor,
    private readonly rowNorms: Tensor,
    private readonly rows: number,
    /** False: prune every iteration, never falling back to full searches on the clock. */
    private readonly policy: { adaptive: boolean } = { adaptive: true },
  ) {
    const n = x.shape[0]!;
    this.labels = torch.keep(torch.zeros([n], { dtype: 'int64', device: x.device }));
    this.upper = torch.keep(torch.zeros([n], { device: x.device }));
    this.lower = torch.keep(torch.zeros([n], { device: x.device }));
  }

  /** Assigns every row to its nearest centroid of `centroids` (K x d); returns how many rows had
   * to be compared with all of them. */
  update(centroids: Tensor): number {
    return torch.tidy(() => {
      const start = performance.now();
      const prepared = prepareCentroids(centroids, 'l2');
      const prune = this.previous !== null && this.fullSearchesLeft === 0;
      let count = this.x.shape[0]!;
      if (prune) {
        this.moveBounds(centroids);
        const doubt = this.rowsInDoubt(prepared);
        if (this.policy.adaptive && doubt.shape[0]! > TIGHTEN_LIMIT * count) {
          this.search(prepared, null, count);
        } else {
          const inDoubt = this.tightenUpper(centroids, prepared, doubt);
          count = inDoubt.shape[0]!;
          this.search(prepared, inDoubt, count);
        }
      } else {
        this.search(prepared, null, count);
        this.fullSearchesLeft = Math.max(0, this.fullSearchesLeft - 1);
      }
      this.previous?.dispose();
      this.previous = torch.keep(centroids.clone());
      this.choosePolicy(prune, start);
      return count;
    });
  }

  /**
   * Bounds pay only when they spare enough of the search to cover their own bookkeeping (a few
   * passes over the rows), which depends on K, d, the data and the machine: while the centroids
   * still move a lot they can cost more than they save. So the time of each pruned update is
   * compared with the last full search; when it is slower, the next updates search in full (1,
   * then 2, 4, ... after each further miss) before the bounds are tried again.
   */
  private choosePolicy(pruned: boolean, start: number): void {
    if (!this.policy.adaptive) return;
    // On an accelerator, wait for the queued kernels: the time must be the work's, not the launches'.
    if (this.x.device !== 'cpu') torch.tidy(() => void this.labels.sum().item());
    const seconds = (performance.now() - start) / 1000;
    if (!pruned) {
      this.fullSeconds = seconds;
    } else if (seconds > this.fullSeconds) {
      this.fullSearchesLeft = this.backoff;
      this.backoff *= 2;
    }
  }

  /** Compares `rows` (all rows when null) with every centroid: exact labels and both bounds. */
  private search(prepared: PreparedCentroids, rows: Tensor | null, count: number): void {
    for (let first = 0; first < count; first += this.rows) {
      torch.tidy(() => {
        const length = Math.min(this.rows, count - first);
        const chunk = rows === null ? null : torch.narrow(rows, 0, first, length);
        const pick = (t: Tensor): Tensor =>
          chunk === null ? torch.narrow(t, 0, first, length) : torch.indexSelect(t, 0, chunk);
        const found = assignChunk(pick(this.x), prepared, pick(this.rowNorms), { second: true });
        const results: [Tensor, Tensor][] = [
          [this.labels, found.labels],
          [this.upper, found.distances.sqrt()],
          [this.lower, found.second!.clamp(0).sqrt()],
        ];
        for (const [state, value] of results) {
          if (chunk === null) torch.narrow(state, 0, first, length).copy_(value);
          else torch.indexCopy_(state, 0, chunk, value);
        }
      });
    }
  }

  /** Carries both bounds over to the new centroids (see the top of this file). */
  private moveBounds(centroids: Tensor): void {
    const k = centroids.shape[0]!;
    const moved = centroids.sub(this.previous!).norm(2, 1);
    this.upper.add_(torch.indexSelect(moved, 0, this.labels)).mul_(UPWARD);
    const moverCount = Math.min(k, Math.ceil(k * MOVERS_SHARE));
    const movers = torch.topk(moved, moverCount).indices;
    if (moverCount < k) {
      // (Then k >= 2.) The largest move among the other centroids that are not movers: the
      // largest, or the second largest for the rows of the centroid that moved most.
      const others = moved.clone();
      torch.indexCopy_(others, 0, movers, torch.zeros([moverCount], { device: moved.device }));
      const { values, indices } = torch.topk(others, 2);
      const drop = torch.where(
        this.labels.eq(torch.select(indices, 0, 0)),
        torch.select(values, 0, 1),
        torch.select(values, 0, 0),
      );
      this.lower.sub_(drop);
    }
    // The movers, exactly: each row's nearest mover other than its own centroid caps its bound.
    const moverCentroids = prepareCentroids(torch.indexSelect(centroids, 0, movers), 'l2');
    const n = this.x.shape[0]!;
    for (let first = 0; first < n; first += this.rows) {
      torch.tidy(() => {
        const length = Math.min(this.rows, n - first);
        const toMovers = squaredDistances(
          torch.narrow(this.x, 0, first, length),
          moverCentroids,
          torch.narrow(this.rowNorms, 0, first, length),
        );
        const ownIsMover = torch.narrow(this.labels, 0, first, length).unsqueeze(1).eq(movers.unsqueeze(0));
        const nearestMover = torch.minDim(torch.maskedFill(toMovers, ownIsMover, Infinity), 1).values;
        const lower = torch.narrow(this.lower, 0, first, length);
        lower.copy_(torch.minimum(lower, nearestMover.clamp(0).sqrt()));
      });
    }
  }

  /** Row numbers (int64) whose bounds do not prove upper < lower with room for rounding; `among`
   * restricts the test to those rows. */
  private rowsInDoubt(prepared: PreparedCentroids, among?: Tensor): Tensor {
    const d = this.x.shape[1]!;
    const pick = (t: Tensor): Tensor => (among === undefined ? t : torch.indexSelect(t, 0, among));
    const lower = pick(this.lower);
    const upper = pick(this.upper);
    const slack = pick(this.rowNorms)
      .add(prepared.norms!.max())
      .mul(d * ROUNDING);
    const proven = torch.logicalAnd(lower.gt(upper), lower.square().sub(upper.square()).gt(slack));
    const doubt = torch.nonzero(torch.logicalNot(proven)).squeeze(1);
    return among === undefined ? doubt : torch.indexSelect(among, 0, doubt);
  }

  /** Replaces the upper bound of `rows` by their exact distance to their own centroid, and
   * returns those still in doubt. */
  private tightenUpper(centroids: Tensor, prepared: PreparedCentroids, rows: Tensor): Tensor {
    const count = rows.shape[0]!;
    const centroidNorms = prepared.norms!.squeeze(0);
    for (let first = 0; first < count; first += this.rows) {
      torch.tidy(() => {
        const chunk = torch.narrow(rows, 0, first, Math.min(this.rows, count - first));
        const labels = torch.indexSelect(this.labels, 0, chunk);
        const own = torch.indexSelect(centroids, 0, labels);
        own.mul_(torch.indexSelect(this.x, 0, chunk));
        const squared = torch.indexSelect(this.rowNorms, 0, chunk).add(torch.indexSelect(centroidNorms, 0, labels));
        torch.indexCopy_(this.upper, 0, chunk, squared.sub(own.sum(1), 2).clamp(0).sqrt());
      });
    }
    return this.rowsInDoubt(prepared, rows);
  }

  dispose(): void {
    this.labels.dispose();
    this.upper.dispose();
    this.lower.dispose();
    this.previous?.dispose();
    this.previous = null;
  }
}
