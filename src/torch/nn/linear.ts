// Linear with PyTorch's parameter names, shapes and default initialisation (init.defaultLayerInit_).
import { linear } from './functional.js';
import { empty } from '../ops/creation.js';
import type { Tensor } from '../tensor.js';
import { defaultLayerInit_ } from './init.js';
import { Module, type FactoryOptions } from './module.js';

export interface LinearOptions extends FactoryOptions {
  bias?: boolean;
}

/** y = x W^T + b */
export class Linear extends Module {
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    const { bias = true, device, dtype } = options;
    this.registerParameter('weight', empty([outFeatures, inFeatures], { device, dtype }));
    this.registerParameter('bias', bias ? empty([outFeatures], { device, dtype }) : null);
    defaultLayerInit_(this.weight, this.bias);
  }

  get weight(): Tensor {
    return this.getParameter('weight')!;
  }

  get bias(): Tensor | null {
    return this.getParameter('bias');
  }

  override forward(input: Tensor): Tensor {
    return linear(input, this.weight, this.bias);
  }
}
