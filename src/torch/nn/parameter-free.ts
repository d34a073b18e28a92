// Parameter-free layers: activations, pooling, reshaping, dropout.
import { adaptiveAvgPool2d, avgPool2d, dropout, maxPool2d, relu, type PoolOptions } from './functional.js';
import type { Tensor } from '../tensor.js';
import { Module } from './module.js';

type Pair = number | [number, number];

export class ReLU extends Module {
  /** In place overwrites the input (and returns it), as ReLU(inplace=True). */
  constructor(readonly inplace = false) {
    super();
  }

  override forward(input: Tensor): Tensor {
    return this.inplace ? input.relu_() : relu(input);
  }
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly options: PoolOptions & { dilation?: Pair } = {},
  ) {
    super();
  }

  override forward(input: Tensor): Tensor {
    return maxPool2d(input, this.kernelSize, this.options);
  }
}

export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly options: PoolOptions & { countIncludePad?: boolean; divisorOverride?: number } = {},
  ) {
    super();
  }

  override forward(input: Tensor): Tensor {
    return avgPool2d(input, this.kernelSize, this.options);
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }

  override forward(input: Tensor): Tensor {
    return adaptiveAvgPool2d(input, this.outputSize);
  }
}

/** Flattens dimensions startDim..endDim; the default keeps the batch dimension. */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }

  override forward(input: Tensor): Tensor {
    return input.flatten(this.startDim, this.endDim);
  }
}

/** Zeroes elements with probability p and scales the rest by 1/(1-p), in training mode only. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (p < 0 || p > 1) throw new RangeError(`dropout probability has to be between 0 and 1, but got ${p}`);
  }

  override forward(input: Tensor): Tensor {
    return dropout(input, this.p, this.training);
  }
}

/** Returns its input: a placeholder where a layer is optional (as torch.nn.Identity). */
export class Identity extends Module {
  override forward(input: Tensor): Tensor {
    return input;
  }
}
