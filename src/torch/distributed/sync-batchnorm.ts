// Batch norm whose training statistics cover the whole global batch (torch.nn.SyncBatchNorm).
import { noGrad } from '../autograd.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import type { AnyModule } from '../nn/module.js';
import { Tensor } from '../tensor.js';
import { distNative } from './native.js';
import { getWorldSize, isInitialized } from './process-group.js';

/**
 * BatchNorm2d whose batch statistics, in training, are those of the union of every rank's batch:
 * forward all-gathers each rank's per-channel mean, variance and count; backward all-reduces the
 * two per-channel sums the input gradient needs (PyTorch's algorithm; its CUDA kernels on CUDA).
 * In eval mode, or in a single process, it is exactly BatchNorm2d. Same state dict names.
 */
export class SyncBatchNorm extends BatchNorm2d {
  override forward(input: Tensor): Tensor {
    if (!this.training || !isInitialized() || getWorldSize() === 1) return super.forward(input);
    if (input.ndim < 2)
      throw new Error(`SyncBatchNorm: expected an input with a channel dimension (got ${input.ndim}D)`);
    let momentum = this.momentum ?? 0;
    if (this.trackRunningStats) {
      const tracked = this.numBatchesTracked!;
      noGrad(() => tracked.add_(1));
      if (this.momentum === null) momentum = 1 / tracked.item();
    }
    return new Tensor(
      distNative.syncBatchNorm(
        input.handle,
        this.weight?.handle ?? null,
        this.bias?.handle ?? null,
        this.runningMean?.handle ?? null,
        this.runningVar?.handle ?? null,
        momentum,
        this.eps,
      ),
    );
  }
}

/**
 * Turns every BatchNorm2d inside `module` into a SyncBatchNorm, in place, keeping its parameters,
 * buffers and names. The layer objects themselves change class (rather than being swapped for
 * new ones as PyTorch's setattr does) because models here keep typed references to their layers
 * (`this.bn1`); SyncBatchNorm adds no state, so the existing objects are complete as one.
 */
export function convertSyncBatchNorm<M extends AnyModule>(module: M): M {
  for (const m of module.modules()) {
    if (m instanceof BatchNorm2d && !(m instanceof SyncBatchNorm)) Object.setPrototypeOf(m, SyncBatchNorm.prototype);
  }
  return module;
}
