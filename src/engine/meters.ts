// Top-k accuracy, as VISSL's accuracy_list_meter: one meter per model output, counted on the
// device and read back only when a value is asked for (no host sync per step).
import { cumsum, keep, logicalAnd, tensor, tidy, topk, zeros, type Device, type Tensor } from '../torch/index.js';

export class AccuracyMeter {
  readonly topk: readonly number[];
  /** Correct predictions per k, then the number of counted samples, on the device. */
  readonly #counts: Tensor;

  constructor(topkValues: readonly number[] = [1, 5], device: Device = 'cpu') {
    if (topkValues.length === 0 || topkValues.some((k) => !Number.isInteger(k) || k < 1)) {
      throw new Error(`accuracy meter: topk values must be positive integers, got [${topkValues.join(', ')}]`);
    }
    this.topk = [...topkValues];
    this.#counts = keep(zeros([topkValues.length + 1], { dtype: 'float64', device }));
  }

  /** Counts a batch: `scores` N x C, `labels` N (entries equal to `ignoreIndex` are not counted). */
  update(scores: Tensor, labels: Tensor, ignoreIndex = -1): void {
    tidy(() => {
      const valid = labels.ne(ignoreIndex);
      const maxK = Math.min(Math.max(...this.topk), scores.shape[1] as number);
      const predicted = topk(scores.detach(), maxK, { dim: 1 }).indices;
      const hits = logicalAnd(predicted.eq(labels.unsqueeze(1)), valid.unsqueeze(1));
      const cumulative = cumsum(hits, 1, 'float64');
      this.topk.forEach((k, i) => {
        this.#counts.narrow(0, i, 1).add_(cumulative.narrow(1, Math.min(k, maxK) - 1, 1).sum());
      });
      this.#counts.narrow(0, this.topk.length, 1).add_(valid.sum());
    });
  }

  /**
   * Accuracy in percent for each k, e.g. {top1: 53.2, top5: 80.1}. `reduce` combines the counts
   * of every rank in place (a sum all-reduce) on a copy, so the meter keeps its own counts.
   */
  value(reduce?: (counts: Tensor) => void): Record<string, number> {
    const counts = tidy(() => {
      const all = this.#counts.clone();
      reduce?.(all);
      return all.toArray() as number[];
    });
    const total = counts[this.topk.length] as number;
    return Object.fromEntries(
      this.topk.map((k, i) => [`top${k}`, total > 0 ? (100 * (counts[i] as number)) / total : 0]),
    );
  }

  /** Samples counted so far. */
  get count(): number {
    return (this.#counts.toArray() as number[])[this.topk.length] as number;
  }

  reset(): void {
    this.#counts.zero_();
  }

  /** The counts as plain numbers, to checkpoint an epoch in progress. */
  state(): number[] {
    return this.#counts.toArray() as number[];
  }

  /** Continues from counts `state()` gave. */
  restore(counts: readonly number[]): void {
    if (counts.length !== this.topk.length + 1)
      throw new Error(`accuracy meter: saved counts hold ${counts.length} values, ${this.topk.length + 1} expected`);
    const saved = tensor(Float64Array.from(counts), { device: this.#counts.device });
    this.#counts.copy_(saved);
    saved.dispose();
  }

  dispose(): void {
    this.#counts.dispose();
  }
}
