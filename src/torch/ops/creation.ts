// Creating tensors: from JS data, and the factory functions (zeros, rand, arange, ...).
import { dtypeCode, dtypeOfTypedArray, type DType, type TypedArray } from '../dtype.js';
import { op } from '../dispatch.js';
import { native } from '../native.js';
import { wrap, type Device, type Tensor } from '../tensor.js';
import { to } from './convert.js';

export interface CreateOptions {
  dtype?: DType;
  /** Created on the CPU and moved (the default is 'cpu'). */
  device?: Device;
  requiresGrad?: boolean;
}

type Nested = number | boolean | Nested[];

function inferShape(data: Nested): number[] {
  const shape: number[] = [];
  let level: Nested = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0] as Nested;
  }
  return shape;
}

function finish(t: Tensor, options: CreateOptions): Tensor {
  let out = t;
  if (options.device !== undefined && options.device !== 'cpu') {
    out = to(t, options.device);
    t.dispose();
  }
  if (options.requiresGrad) out.requiresGrad_(true);
  return out;
}

/**
 * A tensor from JS data: a (nested) number or boolean array, or a typed array with `shape`.
 * Numbers default to float32 (JS cannot tell 1 from 1.0); typed arrays keep their element type.
 * The data is copied.
 */
export function tensor(data: Nested | TypedArray, options: CreateOptions & { shape?: number[] } = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    const shape = options.shape ?? [data.length];
    const natural = dtypeOfTypedArray(data);
    const raw = wrap(native.fromBuffer(data, shape, dtypeCode(natural)));
    if (options.dtype === undefined || options.dtype === natural) return finish(raw, options);
    const converted = to(raw, options.dtype);
    raw.dispose();
    return finish(converted, options);
  }
  const shape = options.shape ?? inferShape(data);
  const flat = (Array.isArray(data) ? (data as unknown[]).flat(Infinity) : [data]) as (number | boolean)[];
  const expected = shape.reduce((a, b) => a * b, 1);
  if (flat.length !== expected) {
    throw new Error(
      `tensor(): the data has ${flat.length} elements but shape [${shape.join(', ')}] needs ${expected} (ragged nested arrays are not allowed)`,
    );
  }
  const isBool = typeof flat[0] === 'boolean';
  const dtype = options.dtype ?? (isBool ? 'bool' : 'float32');
  const values = Float64Array.from(flat, Number);
  const raw = wrap(native.fromBuffer(values, shape, dtypeCode('float64')));
  const converted = to(raw, dtype);
  raw.dispose();
  return finish(converted, options);
}

/**
 * A tensor whose elements are the raw bytes of `bytes`, reinterpreted as `dtype` (as
 * torch.frombuffer): how file readers (npy, safetensors, checkpoints) build tensors, including
 * float16 and bfloat16 which have no JS typed array. The bytes are copied.
 */
export function fromBytes(bytes: ArrayBufferView, shape: number[], dtype: DType): Tensor {
  return wrap(native.fromBuffer(bytes, shape, dtypeCode(dtype)));
}

/** A scalar (0-d) tensor. */
export function scalarTensor(value: number, options: CreateOptions = {}): Tensor {
  return tensor(value, { ...options, shape: [] });
}

const ZEROS = op('aten::zeros', ['size', 'dtype', 'layout', 'device', 'pin_memory']);
const ONES = op('aten::ones', ['size', 'dtype', 'layout', 'device', 'pin_memory']);
const EMPTY = op('aten::empty.memory_format', ['size', 'dtype', 'layout', 'device', 'pin_memory', 'memory_format']);
const FULL = op('aten::full', ['size', 'fill_value', 'dtype', 'layout', 'device', 'pin_memory']);
const RAND = op('aten::rand', ['size', 'dtype', 'layout', 'device', 'pin_memory']);
const RANDN = op('aten::randn', ['size', 'dtype', 'layout', 'device', 'pin_memory']);
const RANDINT = op('aten::randint.low', ['low', 'high', 'size', 'dtype', 'layout', 'device', 'pin_memory']);
const RANDPERM = op('aten::randperm', ['n', 'dtype', 'layout', 'device', 'pin_memory']);
const ARANGE = op('aten::arange.start_step', ['start', 'end', 'step', 'dtype', 'layout', 'device', 'pin_memory']);
const LINSPACE = op('aten::linspace', ['start', 'end', 'steps', 'dtype', 'layout', 'device', 'pin_memory']);
const EYE = op('aten::eye.m', ['n', 'm', 'dtype', 'layout', 'device', 'pin_memory']);

/** The dtype code a factory passes (undefined: libtorch infers it, as arange does). */
function dtypeArg(options: CreateOptions, defaultDtype?: DType): number | undefined {
  const dtype = options.dtype ?? defaultDtype;
  return dtype === undefined ? undefined : dtypeCode(dtype);
}

function created(t: Tensor, options: CreateOptions): Tensor {
  if (options.requiresGrad) t.requiresGrad_(true);
  return t;
}

export function zeros(shape: number[], options: CreateOptions = {}): Tensor {
  return created(wrap(ZEROS.callHandle(shape, dtypeArg(options, 'float32'), undefined, options.device)), options);
}
export function ones(shape: number[], options: CreateOptions = {}): Tensor {
  return created(wrap(ONES.callHandle(shape, dtypeArg(options, 'float32'), undefined, options.device)), options);
}
/** Uninitialised memory: every element must be written before it is read. */
export function empty(shape: number[], options: CreateOptions = {}): Tensor {
  return created(wrap(EMPTY.callHandle(shape, dtypeArg(options, 'float32'), undefined, options.device)), options);
}
export function full(shape: number[], value: number, options: CreateOptions = {}): Tensor {
  return created(wrap(FULL.callHandle(shape, value, dtypeArg(options, 'float32'), undefined, options.device)), options);
}
/** Uniform on [0, 1). */
export function rand(shape: number[], options: CreateOptions = {}): Tensor {
  return created(wrap(RAND.callHandle(shape, dtypeArg(options, 'float32'), undefined, options.device)), options);
}
/** Standard normal. */
export function randn(shape: number[], options: CreateOptions = {}): Tensor {
  return created(wrap(RANDN.callHandle(shape, dtypeArg(options, 'float32'), undefined, options.device)), options);
}
/** Integers uniform on [low, high), int64 unless told otherwise. */
export function randint(low: number, high: number, shape: number[], options: CreateOptions = {}): Tensor {
  return created(
    wrap(RANDINT.callHandle(low, high, shape, dtypeArg(options, 'int64'), undefined, options.device)),
    options,
  );
}
/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, options: CreateOptions = {}): Tensor {
  return created(wrap(RANDPERM.callHandle(n, dtypeArg(options, 'int64'), undefined, options.device)), options);
}
/**
 * Values from start to end (exclusive) by step, as torch.arange: integral arguments give int64,
 * fractional ones the default float dtype. arange(5) is 0..4.
 */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  const [from, until] = end === undefined ? [0, start] : [start, end];
  return created(wrap(ARANGE.callHandle(from, until, step, dtypeArg(options), undefined, options.device)), options);
}
export function linspace(start: number, end: number, steps: number, options: CreateOptions = {}): Tensor {
  return created(
    wrap(LINSPACE.callHandle(start, end, steps, dtypeArg(options, 'float32'), undefined, options.device)),
    options,
  );
}
export function eye(n: number, m = n, options: CreateOptions = {}): Tensor {
  return created(wrap(EYE.callHandle(n, m, dtypeArg(options, 'float32'), undefined, options.device)), options);
}

const ZEROS_LIKE = op('aten::zeros_like', ['self', 'dtype', 'layout', 'device', 'pin_memory', 'memory_format']);
const ONES_LIKE = op('aten::ones_like', ['self', 'dtype', 'layout', 'device', 'pin_memory', 'memory_format']);
const FULL_LIKE = op('aten::full_like', [
  'self',
  'fill_value',
  'dtype',
  'layout',
  'device',
  'pin_memory',
  'memory_format',
]);
const EMPTY_LIKE = op('aten::empty_like', ['self', 'dtype', 'layout', 'device', 'pin_memory', 'memory_format']);
export function zerosLike(self: Tensor, options: CreateOptions = {}): Tensor {
  return created(wrap(ZEROS_LIKE.callHandle(self.handle, dtypeArg(options), undefined, options.device)), options);
}
export function onesLike(self: Tensor, options: CreateOptions = {}): Tensor {
  return created(wrap(ONES_LIKE.callHandle(self.handle, dtypeArg(options), undefined, options.device)), options);
}
export function fullLike(self: Tensor, value: number, options: CreateOptions = {}): Tensor {
  return created(wrap(FULL_LIKE.callHandle(self.handle, value, dtypeArg(options), undefined, options.device)), options);
}
export function emptyLike(self: Tensor, options: CreateOptions = {}): Tensor {
  return created(wrap(EMPTY_LIKE.callHandle(self.handle, dtypeArg(options), undefined, options.device)), options);
}
