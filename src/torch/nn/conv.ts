// Conv2d with PyTorch's parameter names, shapes and default initialisation (init.defaultLayerInit_).
import { conv2d } from './functional.js';
import { empty } from '../ops/creation.js';
import type { Tensor } from '../tensor.js';
import { defaultLayerInit_ } from './init.js';
import { Module, type FactoryOptions } from './module.js';

type Pair = number | [number, number];

export interface Conv2dOptions extends FactoryOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

function pair(value: Pair): [number, number] {
  return typeof value === 'number' ? [value, value] : value;
}

export class Conv2d extends Module {
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    options: Conv2dOptions = {},
  ) {
    super();
    const { stride = 1, padding = 0, dilation = 1, groups = 1, bias = true, device, dtype } = options;
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new Error(
        `Conv2d: in_channels (${inChannels}) and out_channels (${outChannels}) must be divisible by groups (${groups})`,
      );
    }
    this.stride = pair(stride);
    this.padding = pair(padding);
    this.dilation = pair(dilation);
    this.groups = groups;
    const [kh, kw] = pair(kernelSize);
    this.registerParameter('weight', empty([outChannels, inChannels / groups, kh, kw], { device, dtype }));
    this.registerParameter('bias', bias ? empty([outChannels], { device, dtype }) : null);
    defaultLayerInit_(this.weight, this.bias);
  }

  get weight(): Tensor {
    return this.getParameter('weight')!;
  }

  get bias(): Tensor | null {
    return this.getParameter('bias');
  }

  override forward(input: Tensor): Tensor {
    const { stride, padding, dilation, groups } = this;
    return conv2d(input, this.weight, this.bias, { stride, padding, dilation, groups });
  }
}
