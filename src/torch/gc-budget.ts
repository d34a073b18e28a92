// The allocator-driven collection R's torch does (lantern's Allocator.cpp calls R's gc() once
// enough native memory has been allocated), for V8. A tensor handle that code drops without
// disposing keeps native memory alive that V8 cannot weigh: its autograd graph's nodes, and the
// heap fragmentation its small blocks cause between the big transient buffers of every step
// (measured: a ResNet-20 loop that drops its losses grows ~1.5 MB of RSS per step while the
// tensors it holds are ~0.1 MB). V8 sees a few small JS objects and never collects them.
//
// So the allocation churn counts: once `budget` bytes have been allocated by libtorch's CPU
// allocator since the last collection and dropped handles have joined the safety net since
// then, a full V8 collection runs, and the finalizers free the dropped handles at the next turn
// of the event loop. A loop that disposes everything (tidy, using) registers nothing and never
// pays for a collection. Nor does one whose handles outlive a turn of the event loop but are then
// disposed (a training loop's batch, held across the await for the next one): a handle counts as
// dropped only while it is still undisposed when a later batch of handles joins the net, so the
// decision is made on the handles that earlier code really left behind, not on the ones that
// have just joined and whose owner has not had the chance to dispose them yet.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { native } from './native.js';

/** Default budget: a collection per 512 MB allocated (CLUSTERFIT_GC_BUDGET_MB overrides it). */
const DEFAULT_BUDGET_MB = 512;

let budget = budgetFromEnvironment();
let churnAtLastCollection = 0;
/** Handles that joined the net since the last collection and have not been disposed since. */
let undisposedSinceLastCollection = 0;
/** Counts collections, so a disposed handle knows whether it was counted in the current one. */
let generation = 0;
let collect: (() => void) | null | undefined;

function budgetFromEnvironment(): number {
  const mb = Number(process.env.CLUSTERFIT_GC_BUDGET_MB);
  return (Number.isFinite(mb) && mb > 0 ? mb : DEFAULT_BUDGET_MB) * 2 ** 20;
}

/** V8's gc(): global.gc under --expose-gc, else obtained by enabling the flag at run time. */
function collector(): (() => void) | null {
  if (collect !== undefined) return collect;
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return (collect = exposed);
  try {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  } catch {
    collect = null; // a runtime without it: V8's own heuristics remain
  }
  return collect;
}

/** Sets the allocation budget between collections, in bytes (R torch: torch.threshold_call_gc). */
export function setGcBudget(bytes: number): void {
  if (!(bytes > 0)) throw new Error(`setGcBudget: the budget must be a positive number of bytes, got ${bytes}`);
  budget = bytes;
}

export function gcBudget(): number {
  return budget;
}

/** How many collections the budget has asked V8 for so far (for tests and diagnostics). */
export function gcBudgetCollections(): number {
  return generation;
}

/**
 * Called when `count` handles join the safety net, before they are counted: collects once the
 * budget is spent if handles that joined earlier are still undisposed. Returns the generation the
 * new handles belong to (pass it to `noteDisposedHandle` when one is disposed).
 */
export function noteDroppedHandles(count: number): number {
  if (undisposedSinceLastCollection > 0) {
    const churn = native.cpuBytesEverAllocated();
    if (churn - churnAtLastCollection >= budget) {
      churnAtLastCollection = churn;
      undisposedSinceLastCollection = 0;
      generation += 1;
      collector()?.();
    }
  }
  undisposedSinceLastCollection += count;
  return generation;
}

/** A handle in the safety net was disposed by its owner: it was not dropped after all. */
export function noteDisposedHandle(joinedInGeneration: number): void {
  if (joinedInGeneration === generation && undisposedSinceLastCollection > 0) undisposedSinceLastCollection -= 1;
}
