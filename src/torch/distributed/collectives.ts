// Collectives over the default group, in place like torch.distributed's. The blocking forms wait
// for the transfer; the *Async forms return Promises and keep the event loop running meanwhile.
import { Tensor } from '../tensor.js';
import type { Handle } from '../native.js';
import { distNative, type NativeReduceOp } from './native.js';
import { getRank, getWorldSize, requireInitialized } from './process-group.js';

export type ReduceOp = NativeReduceOp;

function checkSrc(what: string, src: number): void {
  if (!Number.isInteger(src) || src < 0 || src >= getWorldSize()) {
    throw new RangeError(`distributed.${what}: src=${src} is not a rank of this group (0..${getWorldSize() - 1})`);
  }
}

const wrap = (handles: Handle[]): Tensor[] => handles.map((h) => new Tensor(h));

/** Reduces `t` over every rank, in place: every rank ends with the same result. */
export function allReduce(t: Tensor, op: ReduceOp = 'sum'): void {
  requireInitialized('allReduce');
  distNative.distAllReduce(t.handle, op, false);
}

export function allReduceAsync(t: Tensor, op: ReduceOp = 'sum'): Promise<void> {
  requireInitialized('allReduceAsync');
  return distNative.distAllReduce(t.handle, op, true);
}

/** Copies rank `src`'s `t` into every rank's `t`. */
export function broadcast(t: Tensor, src = 0): void {
  requireInitialized('broadcast');
  checkSrc('broadcast', src);
  distNative.distBroadcast(t.handle, src, false);
}

export function broadcastAsync(t: Tensor, src = 0): Promise<void> {
  requireInitialized('broadcastAsync');
  checkSrc('broadcastAsync', src);
  return distNative.distBroadcast(t.handle, src, true);
}

/** Every rank's `t`, in rank order (each rank passes a tensor of the same shape). */
export function allGather(t: Tensor): Tensor[] {
  requireInitialized('allGather');
  return wrap(distNative.distAllGather(t.handle, false));
}

export async function allGatherAsync(t: Tensor): Promise<Tensor[]> {
  requireInitialized('allGatherAsync');
  return wrap(await distNative.distAllGather(t.handle, true));
}

/** out = the reduction over ranks of their inputs[thisRank] (one input per rank). */
export function reduceScatter(out: Tensor, inputs: Tensor[], op: ReduceOp = 'sum'): void {
  requireInitialized('reduceScatter');
  distNative.distReduceScatter(
    out.handle,
    inputs.map((t) => t.handle),
    op,
  );
}

/** Returns once every rank has reached it. */
export function barrier(): void {
  requireInitialized('barrier');
  distNative.distBarrier(false);
}

export function barrierAsync(): Promise<void> {
  requireInitialized('barrierAsync');
  return distNative.distBarrier(true);
}

/** DDP's module-state sync: broadcasts many tensors from `src` through flat buffers of at most `bufferBytes`. */
export function broadcastCoalesced(tensors: Tensor[], src = 0, bufferBytes = 250 * 1024 * 1024): void {
  requireInitialized('broadcastCoalesced');
  checkSrc('broadcastCoalesced', src);
  if (getWorldSize() === 1 && getRank() === 0) return;
  distNative.distBroadcastCoalesced(
    tensors.map((t) => t.handle),
    src,
    bufferBytes,
  );
}
