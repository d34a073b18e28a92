// Releasing tensor handles, one at a time or many at once. Every native call pays an N-API
// transition that costs about as much as a tiny op's whole JS side, and a tidy scope frees all of
// its tensors together on exit (1000 tiny ops in a scope: 1000 releases). Inside `releaseBatch`,
// a released handle is written into a buffer instead, and the buffer goes to the addon in one
// call when it fills and when the batch ends, so every handle is released before
// `releaseBatch` returns: a scope's memory is back when `tidy` returns, as before. The tensors
// themselves are marked disposed at once (Tensor.dispose), so none of them can be used while its
// handle waits in the buffer.
import { native, type Handle } from './native.js';

const pending = new Float64Array(256);
let pendingCount = 0;
let batching = false;

/** Drops one handle's reference, now or (inside `releaseBatch`) before the batch ends. */
export function releaseHandle(handle: Handle): void {
  if (!batching) {
    native.dispose(handle);
    return;
  }
  pending[pendingCount++] = handle;
  if (pendingCount === pending.length) flush();
}

function flush(): void {
  const count = pendingCount;
  pendingCount = 0;
  native.disposeMany(pending, count);
}

/**
 * Runs `fn` with every handle it releases batched, all released before this returns. A nested call
 * joins the outer batch; what `fn` disposes is already marked disposed, so nothing can use a handle
 * while it waits in the buffer, even if a user `Disposable` in a scope runs code of its own.
 */
export function releaseBatch(fn: () => void): void {
  if (batching) {
    fn();
    return;
  }
  batching = true;
  try {
    fn();
  } finally {
    batching = false;
    flush();
  }
}
