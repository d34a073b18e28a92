// BatchNorm2d as torch.nn.BatchNorm2d: affine weight (ones) and bias (zeros), running_mean (zeros),
// running_var (ones) and an int64 num_batches_tracked buffer, so state dicts match PyTorch's.
import { batchNorm } from './functional.js';
import { noGrad } from '../autograd.js';
import { ones, zeros } from '../ops/creation.js';
import type { Tensor } from '../tensor.js';
import { Module, type FactoryOptions } from './module.js';

export interface BatchNormOptions extends FactoryOptions {
  eps?: number;
  /** Weight of the newest batch in the running statistics; null: a cumulative average. */
  momentum?: number | null;
  affine?: boolean;
  /** Keep running statistics (used in eval mode); without them eval mode uses batch statistics. */
  trackRunningStats?: boolean;
}

export class BatchNorm2d extends Module {
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;

  constructor(
    readonly numFeatures: number,
    options: BatchNormOptions = {},
  ) {
    super();
    const { eps = 1e-5, momentum = 0.1, affine = true, trackRunningStats = true, device, dtype } = options;
    this.eps = eps;
    this.momentum = momentum;
    this.affine = affine;
    this.trackRunningStats = trackRunningStats;
    const factory = { device, dtype };
    this.registerParameter('weight', affine ? ones([numFeatures], factory) : null);
    this.registerParameter('bias', affine ? zeros([numFeatures], factory) : null);
    this.registerBuffer('running_mean', trackRunningStats ? zeros([numFeatures], factory) : null);
    this.registerBuffer('running_var', trackRunningStats ? ones([numFeatures], factory) : null);
    this.registerBuffer('num_batches_tracked', trackRunningStats ? zeros([], { device, dtype: 'int64' }) : null);
  }

  get weight(): Tensor | null {
    return this.getParameter('weight');
  }
  get bias(): Tensor | null {
    return this.getParameter('bias');
  }
  get runningMean(): Tensor | null {
    return this.getBuffer('running_mean');
  }
  get runningVar(): Tensor | null {
    return this.getBuffer('running_var');
  }
  get numBatchesTracked(): Tensor | null {
    return this.getBuffer('num_batches_tracked');
  }

  override forward(input: Tensor): Tensor {
    if (input.ndim !== 4) throw new Error(`BatchNorm2d: expected 4D input (got ${input.ndim}D input)`);
    const updatesStatistics = this.training && this.trackRunningStats;
    let momentum = this.momentum ?? 0;
    if (updatesStatistics) {
      const tracked = this.numBatchesTracked!;
      noGrad(() => tracked.add_(1));
      // A null momentum averages all batches so far: the newest weighs 1/n.
      if (this.momentum === null) momentum = 1 / tracked.item();
    }
    // Batch statistics in training, and in eval when there are no running statistics to use.
    const useBatchStatistics = this.training || !this.trackRunningStats;
    return batchNorm(input, this.runningMean, this.runningVar, {
      weight: this.weight,
      bias: this.bias,
      training: useBatchStatistics,
      momentum,
      eps: this.eps,
    });
  }
}
