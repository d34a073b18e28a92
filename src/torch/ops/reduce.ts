// Reductions. `dim` may be one dimension or several; omitted, the whole tensor is reduced.
import { dtypeCode, type DType } from '../dtype.js';
import { op, type Op } from '../dispatch.js';
import { wrap, wrapAll, type Tensor } from '../tensor.js';
import type { Handle } from '../native.js';

export interface ReduceOptions {
  keepdim?: boolean;
  /** Accumulate and return in this dtype. */
  dtype?: DType;
}

export interface ValuesIndices {
  values: Tensor;
  indices: Tensor;
}

const SUM = op('aten::sum', ['self', 'dtype']);
const SUM_DIM = op('aten::sum.dim_IntList', ['self', 'dim', 'keepdim', 'dtype']);
const MEAN = op('aten::mean', ['self', 'dtype']);
const MEAN_DIM = op('aten::mean.dim', ['self', 'dim', 'keepdim', 'dtype']);

// A whole-tensor reduction without options (`x.sum()`, the common case) allocates no options
// object and passes the addon no `undefined` dtype, which it would have to inspect on every call.
function reduction(whole: Op, alongDims: Op) {
  return (self: Tensor, dim?: number | number[], options?: ReduceOptions): Tensor => {
    const dtype = options?.dtype === undefined ? undefined : dtypeCode(options.dtype);
    if (dim !== undefined) return wrap(alongDims.callHandle(self.handle, dim, options?.keepdim ?? false, dtype));
    return wrap(dtype === undefined ? whole.callHandle(self.handle) : whole.callHandle(self.handle, dtype));
  };
}

export const sum = reduction(SUM, SUM_DIM);
export const mean = reduction(MEAN, MEAN_DIM);

const VAR = op('aten::var.correction', ['self', 'dim', 'correction', 'keepdim']);
const STD = op('aten::std.correction', ['self', 'dim', 'correction', 'keepdim']);

export interface VarianceOptions {
  /** Bessel's correction: 1 (the default) gives the unbiased estimate, 0 the population one. */
  correction?: number;
  keepdim?: boolean;
}

export function variance(self: Tensor, dim?: number | number[], options: VarianceOptions = {}): Tensor {
  return wrap(VAR.callHandle(self.handle, dim ?? null, options.correction ?? 1, options.keepdim ?? false));
}

export function std(self: Tensor, dim?: number | number[], options: VarianceOptions = {}): Tensor {
  return wrap(STD.callHandle(self.handle, dim ?? null, options.correction ?? 1, options.keepdim ?? false));
}

const MAX = op('aten::max', ['self']);
const MIN = op('aten::min', ['self']);
const MAX_DIM = op('aten::max.dim', ['self', 'dim', 'keepdim']);
const MIN_DIM = op('aten::min.dim', ['self', 'dim', 'keepdim']);

function valuesIndices(result: unknown): ValuesIndices {
  const [values, indices] = wrapAll(result as Handle[]);
  return { values: values!, indices: indices! };
}

/** The largest element. */
export function max(self: Tensor): Tensor {
  return wrap(MAX.callHandle(self.handle));
}
/** The largest elements along `dim`, with their indices. */
export function maxDim(self: Tensor, dim: number, keepdim = false): ValuesIndices {
  return valuesIndices(MAX_DIM.call(self.handle, dim, keepdim));
}
export function min(self: Tensor): Tensor {
  return wrap(MIN.callHandle(self.handle));
}
export function minDim(self: Tensor, dim: number, keepdim = false): ValuesIndices {
  return valuesIndices(MIN_DIM.call(self.handle, dim, keepdim));
}

const ARGMAX = op('aten::argmax', ['self', 'dim', 'keepdim']);
const ARGMIN = op('aten::argmin', ['self', 'dim', 'keepdim']);
export function argmax(self: Tensor, dim?: number, keepdim = false): Tensor {
  return wrap(ARGMAX.callHandle(self.handle, dim ?? null, keepdim));
}
export function argmin(self: Tensor, dim?: number, keepdim = false): Tensor {
  return wrap(ARGMIN.callHandle(self.handle, dim ?? null, keepdim));
}

const TOPK = op('aten::topk', ['self', 'k', 'dim', 'largest', 'sorted']);
export interface TopkOptions {
  dim?: number;
  largest?: boolean;
  sorted?: boolean;
}
export function topk(self: Tensor, k: number, options: TopkOptions = {}): ValuesIndices {
  return valuesIndices(TOPK.call(self.handle, k, options.dim ?? -1, options.largest ?? true, options.sorted ?? true));
}

const VECTOR_NORM = op('aten::linalg_vector_norm', ['self', 'ord', 'dim', 'keepdim', 'dtype']);
/** The p-norm (default 2) of all elements, or along `dim`. */
export function norm(self: Tensor, p = 2, dim?: number | number[], keepdim = false): Tensor {
  return wrap(VECTOR_NORM.callHandle(self.handle, p, dim ?? null, keepdim));
}

const LOGSUMEXP = op('aten::logsumexp', ['self', 'dim', 'keepdim']);
export function logsumexp(self: Tensor, dim: number | number[], keepdim = false): Tensor {
  return wrap(LOGSUMEXP.callHandle(self.handle, dim, keepdim));
}

const CUMSUM = op('aten::cumsum', ['self', 'dim', 'dtype']);
export function cumsum(self: Tensor, dim: number, dtype?: DType): Tensor {
  return wrap(CUMSUM.callHandle(self.handle, dim, dtype === undefined ? undefined : dtypeCode(dtype)));
}

const ALL = op('aten::all', ['self']);
const ANY = op('aten::any', ['self']);
export function all(self: Tensor): Tensor {
  return wrap(ALL.callHandle(self.handle));
}
export function any(self: Tensor): Tensor {
  return wrap(ANY.callHandle(self.handle));
}

const BINCOUNT = op('aten::bincount', ['self', 'weights', 'minlength']);
/** Counts of each value of a 1-d int64 tensor (cluster sizes, label histograms). */
export function bincount(self: Tensor, minlength = 0, weights?: Tensor): Tensor {
  return wrap(BINCOUNT.callHandle(self.handle, weights?.handle ?? null, minlength));
}
