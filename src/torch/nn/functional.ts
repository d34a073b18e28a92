// Functional neural-network ops with PyTorch's names (torch.nn.functional) and defaults.
import { op } from '../dispatch.js';
import { wrap, type Tensor } from '../tensor.js';
import { div } from '../ops/math.js';
import { norm } from '../ops/reduce.js';
import { expandAs } from '../ops/shape.js';

type Pair = number | [number, number];

export { relu, sigmoid, tanh } from '../ops/math.js';

const CONV2D = op('aten::conv2d', ['input', 'weight', 'bias', 'stride', 'padding', 'dilation', 'groups']);
export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}
export function conv2d(input: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  const { stride = 1, padding = 0, dilation = 1, groups = 1 } = options;
  return wrap(CONV2D.callHandle(input.handle, weight.handle, bias?.handle ?? null, stride, padding, dilation, groups));
}

const LINEAR = op('aten::linear', ['input', 'weight', 'bias']);
/** input @ weight.T + bias */
export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return wrap(LINEAR.callHandle(input.handle, weight.handle, bias?.handle ?? null));
}

const BATCH_NORM = op('aten::batch_norm', [
  'input',
  'weight',
  'bias',
  'running_mean',
  'running_var',
  'training',
  'momentum',
  'eps',
  'cudnn_enabled',
]);
export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Batch statistics (and running-statistics updates) when true; running statistics when false. */
  training?: boolean;
  momentum?: number;
  eps?: number;
}
/** As F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps). */
export function batchNorm(
  input: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  options: BatchNormOptions = {},
): Tensor {
  const { weight = null, bias = null, training = false, momentum = 0.1, eps = 1e-5 } = options;
  return wrap(
    BATCH_NORM.callHandle(
      input.handle,
      weight?.handle ?? null,
      bias?.handle ?? null,
      runningMean?.handle ?? null,
      runningVar?.handle ?? null,
      training,
      momentum,
      eps,
      true,
    ),
  );
}

const MAX_POOL2D = op('aten::max_pool2d', ['self', 'kernel_size', 'stride', 'padding', 'dilation', 'ceil_mode']);
export interface PoolOptions {
  /** Defaults to the kernel size. */
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
}
export function maxPool2d(input: Tensor, kernelSize: Pair, options: PoolOptions & { dilation?: Pair } = {}): Tensor {
  const { stride = kernelSize, padding = 0, dilation = 1, ceilMode = false } = options;
  return wrap(MAX_POOL2D.callHandle(input.handle, kernelSize, stride, padding, dilation, ceilMode));
}

const AVG_POOL2D = op('aten::avg_pool2d', [
  'self',
  'kernel_size',
  'stride',
  'padding',
  'ceil_mode',
  'count_include_pad',
  'divisor_override',
]);
export function avgPool2d(
  input: Tensor,
  kernelSize: Pair,
  options: PoolOptions & { countIncludePad?: boolean; divisorOverride?: number } = {},
): Tensor {
  const { stride = kernelSize, padding = 0, ceilMode = false, countIncludePad = true, divisorOverride } = options;
  return wrap(
    AVG_POOL2D.callHandle(
      input.handle,
      kernelSize,
      stride,
      padding,
      ceilMode,
      countIncludePad,
      divisorOverride ?? null,
    ),
  );
}

const ADAPTIVE_AVG_POOL2D = op('aten::adaptive_avg_pool2d', ['self', 'output_size']);
export function adaptiveAvgPool2d(input: Tensor, outputSize: Pair): Tensor {
  return wrap(ADAPTIVE_AVG_POOL2D.callHandle(input.handle, outputSize));
}

const CONSTANT_PAD_ND = op('aten::constant_pad_nd', ['self', 'pad', 'value']);
/**
 * Pads with a constant, as F.pad(input, pad, 'constant', value): `pad` lists (before, after) pairs
 * starting from the last dimension, e.g. [left, right, top, bottom, front, back].
 */
export function pad(input: Tensor, pad: number[], value = 0): Tensor {
  if (pad.length % 2 !== 0 || pad.length / 2 > input.ndim) {
    throw new Error(
      `pad: expected an even number of sizes, at most 2 per dimension of the ${input.ndim}-d input (got [${pad.join(', ')}])`,
    );
  }
  return wrap(CONSTANT_PAD_ND.callHandle(input.handle, pad, value));
}

const DROPOUT = op('aten::dropout', ['input', 'p', 'train']);
export function dropout(input: Tensor, p = 0.5, training = true): Tensor {
  return wrap(DROPOUT.callHandle(input.handle, p, training));
}

const LOG_SOFTMAX = op('aten::log_softmax.int', ['self', 'dim', 'dtype']);
const SOFTMAX = op('aten::softmax.int', ['self', 'dim', 'dtype']);
export function logSoftmax(input: Tensor, dim: number): Tensor {
  return wrap(LOG_SOFTMAX.callHandle(input.handle, dim));
}
export function softmax(input: Tensor, dim: number): Tensor {
  return wrap(SOFTMAX.callHandle(input.handle, dim));
}

/** torch's at::Reduction codes. */
const REDUCTION = { none: 0, mean: 1, sum: 2 } as const;
export type Reduction = keyof typeof REDUCTION;

const CROSS_ENTROPY = op('aten::cross_entropy_loss', [
  'self',
  'target',
  'weight',
  'reduction',
  'ignore_index',
  'label_smoothing',
]);
export interface CrossEntropyOptions {
  weight?: Tensor | null;
  reduction?: Reduction;
  /** Targets equal to this are ignored (PyTorch's default -100; VISSL's losses use -1). */
  ignoreIndex?: number;
  labelSmoothing?: number;
}
/** Cross entropy of logits `input` (N x C) against class indices `target` (N). */
export function crossEntropy(input: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const { weight = null, reduction = 'mean', ignoreIndex = -100, labelSmoothing = 0 } = options;
  return wrap(
    CROSS_ENTROPY.callHandle(
      input.handle,
      target.handle,
      weight?.handle ?? null,
      REDUCTION[reduction],
      ignoreIndex,
      labelSmoothing,
    ),
  );
}

const NLL_LOSS = op('aten::nll_loss_nd', ['self', 'target', 'weight', 'reduction', 'ignore_index']);
export function nllLoss(
  input: Tensor,
  target: Tensor,
  options: Omit<CrossEntropyOptions, 'labelSmoothing'> = {},
): Tensor {
  const { weight = null, reduction = 'mean', ignoreIndex = -100 } = options;
  return wrap(
    NLL_LOSS.callHandle(input.handle, target.handle, weight?.handle ?? null, REDUCTION[reduction], ignoreIndex),
  );
}

const MSE_LOSS = op('aten::mse_loss', ['self', 'target', 'reduction']);
export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return wrap(MSE_LOSS.callHandle(input.handle, target.handle, REDUCTION[reduction]));
}

const CLAMP_MIN = op('aten::clamp_min', ['self', 'min']);
/** x / max(||x||_p, eps) along `dim`, as F.normalize. */
export function normalize(input: Tensor, options: { p?: number; dim?: number; eps?: number } = {}): Tensor {
  const { p = 2, dim = 1, eps = 1e-12 } = options;
  const norms = norm(input, p, dim, true);
  const clamped = wrap(CLAMP_MIN.callHandle(norms.handle, eps));
  const denominator = expandAs(clamped, input);
  const out = div(input, denominator);
  norms.dispose();
  clamped.dispose();
  denominator.dispose();
  return out;
}

const ONE_HOT = op('aten::one_hot', ['self', 'num_classes']);
/** int64 one-hot rows of class indices; numClasses -1 infers it from the largest index. */
export function oneHot(indices: Tensor, numClasses = -1): Tensor {
  return wrap(ONE_HOT.callHandle(indices.handle, numClasses));
}
