// Training on several ranks: the model each rank steps (DDP over the model, with BatchNorm made
// SyncBatchNorm when the config asks), checkpoints written by rank 0 while the others wait, and the
// step a checkpoint written by one number of ranks resumes at on another.
import { distributed } from '../../torch/index.js';
import type { AnyModule } from '../../torch/nn/index.js';
import { barrier, isMainRank, worldSize } from './ranks.js';

/**
 * What the loop should call: the model itself in one process, else DistributedDataParallel over it
 * (parameters and buffers broadcast from rank 0 now, gradients averaged in buckets during backward,
 * BatchNorm buffers broadcast every forward as PyTorch's broadcast_buffers). Build it after the
 * model has its final device and memory format, and checkpoint the model, not the wrapper.
 */
export function replicate(model: AnyModule, { syncBatchNorm }: { syncBatchNorm: boolean }): AnyModule {
  if (worldSize() === 1) return model;
  if (syncBatchNorm) distributed.convertSyncBatchNorm(model);
  return new distributed.DistributedDataParallel(model, { broadcastBuffers: true }) as unknown as AnyModule;
}

/** Runs `write` on rank 0 only, then holds every rank until it is done (a resume reads it). */
export function writeOnMainRank<T>(write: () => T): T | null {
  const result = isMainRank() ? write() : null;
  barrier();
  return result;
}

/**
 * The step of the epoch to resume at, when the checkpoint was written by `savedWorldSize` ranks:
 * the same number of images into the epoch (rounded down, so a few are seen again rather than
 * skipped). Each rank's share of an epoch depends on the world size, so the exact samples left
 * cannot be kept; the epoch's schedule position is.
 */
export function resumeStep(step: number, savedWorldSize: number, nowWorldSize: number): number {
  if (savedWorldSize === nowWorldSize || step === 0) return step;
  return Math.floor((step * savedWorldSize) / nowWorldSize);
}
