// The engine's view of the process group: which rank this is and the few reductions the loops
// need, each a no-op in a single process so the one-process path runs no collective at all.
import { distributed, keep, tensor, tidy, type Tensor } from '../../torch/index.js';

export function worldSize(): number {
  return distributed.isInitialized() ? distributed.getWorldSize() : 1;
}

export function rank(): number {
  return distributed.isInitialized() ? distributed.getRank() : 0;
}

/** Rank 0 logs, writes metrics and checkpoints. */
export function isMainRank(): boolean {
  return rank() === 0;
}

/** Sums `t` over the ranks, in place. */
export function sumOverRanks(t: Tensor): void {
  if (worldSize() > 1) distributed.allReduce(t, 'sum');
}

/** The mean over the ranks of a number each rank holds. */
export function meanOverRanks(value: number): number {
  if (worldSize() === 1) return value;
  return (
    tidy(() => {
      const t = tensor([value], { dtype: 'float64' });
      distributed.allReduce(t, 'sum');
      return (t.toArray() as number[])[0] as number;
    }) / worldSize()
  );
}

/** True on every rank when it is true on any rank (a one-element MAX all-reduce). */
export function anyRank(flag: boolean): boolean {
  if (worldSize() === 1) return flag;
  const t = keep(tensor([flag ? 1 : 0], { dtype: 'int32' }));
  try {
    distributed.allReduce(t, 'max');
    return (t.toArray() as number[])[0] === 1;
  } finally {
    t.dispose();
  }
}

/** Waits for every rank (after rank 0 wrote something the others read). */
export function barrier(): void {
  if (worldSize() > 1) distributed.barrier();
}
