// VISSL's heads (vissl/models/heads): `mlp` (MLP: a `clf` Sequential of Linear layers with optional
// ReLU/Dropout between them, so a single Linear is 'clf.0.weight') and `eval_mlp` (LinearEvalMLP:
// BatchNorm2d `channel_bn` on the N x C x h x w feature, flatten, then an MLP `clf`, so its Linear is
// 'clf.clf.0.weight'). Inside an SSL model they are 'heads.<i>.clf.0.weight' and so on.
import { noGrad, type Tensor } from '../torch/index.js';
import { BatchNorm2d, Dropout, Linear, Module, ReLU, Sequential, type FactoryOptions } from '../torch/nn/index.js';

/** The MODEL.HEAD settings every head reads. */
export interface HeadSettings extends FactoryOptions {
  /** HEAD.BATCHNORM_EPS (VISSL default 1e-5). */
  bnEps?: number;
  /** HEAD.BATCHNORM_MOMENTUM (VISSL default 0.1). */
  bnMomentum?: number;
  /** HEAD.PARAMS_MULTIPLIER: scales every Linear's initial weight and bias (VISSL default 1). */
  paramsMultiplier?: number;
}

/** The `mlp` head's keyword arguments, with VISSL's names. */
export interface MlpParams {
  dims: number[];
  use_bn?: boolean;
  use_relu?: boolean;
  use_dropout?: boolean;
  use_bias?: boolean;
  skip_last_layer_relu_bn?: boolean;
}

/** The `eval_mlp` head's keyword arguments, with VISSL's names. */
export interface EvalMlpParams {
  in_channels: number;
  dims: number[];
  use_bn?: boolean;
  use_relu?: boolean;
}

function checkDims(head: string, dims: unknown): number[] {
  if (!Array.isArray(dims) || dims.length < 2 || !dims.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`${head} head: 'dims' must list at least two positive integers, e.g. [2048, 1000]`);
  }
  return dims as number[];
}

/**
 * VISSL's MLP: Linear layers dims[0] -> dims[1] -> ...; after each but the last (unless
 * skip_last_layer_relu_bn is false) an optional ReLU and Dropout. Accepts N x C or N x C x 1 x 1.
 */
export class MLP extends Module {
  readonly clf: Sequential;

  constructor(params: MlpParams, settings: HeadSettings = {}) {
    super();
    const dims = checkDims('mlp', params.dims);
    const {
      use_bn = false,
      use_relu = false,
      use_dropout = false,
      use_bias = true,
      skip_last_layer_relu_bn = true,
    } = params;
    // VISSL adds BatchNorm1d here; this library has no BatchNorm1d yet, so refuse rather than differ.
    if (use_bn) throw new Error('mlp head: use_bn (BatchNorm1d between layers) is not supported; set use_bn: false');
    const { device, dtype, paramsMultiplier = 1 } = settings;
    this.clf = this.registerModule('clf', new Sequential());
    for (let i = 1; i < dims.length; i++) {
      this.clf.append(new Linear(dims[i - 1]!, dims[i]!, { bias: use_bias, device, dtype }));
      if (i === dims.length - 1 && skip_last_layer_relu_bn) break;
      if (use_relu) this.clf.append(new ReLU(true));
      if (use_dropout) this.clf.append(new Dropout());
    }
    if (paramsMultiplier !== 1) {
      noGrad(() => {
        for (const p of this.parameters()) p.mul_(paramsMultiplier);
      });
    }
  }

  override forward(input: Tensor): Tensor {
    if (input.ndim === 2) return this.clf.call(input);
    const [n, c, ...rest] = input.shape;
    if (rest.some((d) => d !== 1)) {
      throw new Error(`MLP expected a 2D input or a 4D N x C x 1 x 1 input, got [${input.shape.join(', ')}]`);
    }
    const flat = input.reshape(n!, c!);
    const out = this.clf.call(flat);
    flat.dispose();
    return out;
  }
}

/** VISSL's LinearEvalMLP: BatchNorm2d over the feature's channels, flatten, then an MLP. */
export class LinearEvalMLP extends Module {
  readonly channel_bn: BatchNorm2d;
  readonly clf: MLP;

  constructor(params: EvalMlpParams, settings: HeadSettings = {}) {
    super();
    const { in_channels, use_bn = false, use_relu = false } = params;
    if (!Number.isInteger(in_channels) || in_channels < 1) {
      throw new Error(`eval_mlp head: 'in_channels' must be a positive integer (got ${in_channels})`);
    }
    const { bnEps = 1e-5, bnMomentum = 0.1, device, dtype } = settings;
    this.channel_bn = this.registerModule(
      'channel_bn',
      new BatchNorm2d(in_channels, { eps: bnEps, momentum: bnMomentum, device, dtype }),
    );
    this.clf = this.registerModule('clf', new MLP({ dims: params.dims, use_bn, use_relu }, settings));
  }

  /** Takes N x C x h x w (or N x C, treated as N x C x 1 x 1); returns N x dims[-1]. */
  override forward(input: Tensor): Tensor {
    const features = input.ndim === 2 ? input.unsqueeze(2).unsqueeze(3) : input;
    if (features.ndim !== 4) throw new Error(`eval_mlp head expects a 4D input, got [${input.shape.join(', ')}]`);
    const normed = this.channel_bn.call(features);
    const flat = normed.flatten(1);
    const out = this.clf.call(flat);
    for (const t of [normed, flat]) t.dispose();
    if (features !== input) features.dispose();
    return out;
  }
}

/** One HEAD.PARAMS module: its registered name and keyword arguments. */
export type HeadModuleSpec = [name: string, params: Record<string, unknown>];

interface HeadKind {
  /** The keyword arguments the head takes (VISSL would raise on any other). */
  keys: string[];
  build: (params: Record<string, unknown>, settings: HeadSettings) => Module;
}

const HEADS: Record<string, HeadKind> = {
  mlp: {
    keys: ['dims', 'use_bn', 'use_relu', 'use_dropout', 'use_bias', 'skip_last_layer_relu_bn'],
    build: (params, settings) => new MLP(params as unknown as MlpParams, settings),
  },
  eval_mlp: {
    keys: ['in_channels', 'dims', 'use_bn', 'use_relu'],
    build: (params, settings) => new LinearEvalMLP(params as unknown as EvalMlpParams, settings),
  },
};

/** Builds one head module from its VISSL spec, e.g. ['mlp', { dims: [2048, 1000] }]. */
export function buildHead([name, params]: HeadModuleSpec, settings: HeadSettings = {}): Module {
  const kind = HEADS[name];
  if (kind === undefined) throw new Error(`unknown head '${name}': use one of ${Object.keys(HEADS).join(', ')}`);
  const unknown = Object.keys(params ?? {}).filter((key) => !kind.keys.includes(key));
  if (unknown.length > 0) {
    throw new Error(`${name} head: unknown setting(s) ${unknown.join(', ')}; it takes ${kind.keys.join(', ')}`);
  }
  return kind.build(params ?? {}, settings);
}
