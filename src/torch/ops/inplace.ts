// In-place ops, for optimizers and initialisation. They create no new handles: the result is the
// input tensor itself.
import { op, type Op } from '../dispatch.js';
import { native } from '../native.js';
import { wrap, type Tensor } from '../tensor.js';
import { nonzero } from './shape.js';

function binary(tensorOp: Op, scalarOp: Op) {
  return (self: Tensor, other: Tensor | number, extra?: unknown): void =>
    typeof other === 'number'
      ? scalarOp.callDiscard(self.handle, other, extra)
      : tensorOp.callDiscard(self.handle, other.handle, extra);
}

const ADD_ = binary(
  op('aten::add_.Tensor', ['self', 'other', 'alpha']),
  op('aten::add_.Scalar', ['self', 'other', 'alpha']),
);
const SUB_ = binary(
  op('aten::sub_.Tensor', ['self', 'other', 'alpha']),
  op('aten::sub_.Scalar', ['self', 'other', 'alpha']),
);
export function add_(self: Tensor, other: Tensor | number, alpha?: number): void {
  ADD_(self, other, alpha);
}
export function sub_(self: Tensor, other: Tensor | number, alpha?: number): void {
  SUB_(self, other, alpha);
}
export const mul_ = binary(op('aten::mul_.Tensor', ['self', 'other']), op('aten::mul_.Scalar', ['self', 'other'])) as (
  self: Tensor,
  other: Tensor | number,
) => void;
export const div_ = binary(op('aten::div_.Tensor', ['self', 'other']), op('aten::div_.Scalar', ['self', 'other'])) as (
  self: Tensor,
  other: Tensor | number,
) => void;

const ADDCMUL_ = op('aten::addcmul_', ['self', 'tensor1', 'tensor2', 'value']);
const ADDCDIV_ = op('aten::addcdiv_', ['self', 'tensor1', 'tensor2', 'value']);
/** self += value * a * b */
export function addcmul_(self: Tensor, a: Tensor, b: Tensor, value = 1): void {
  ADDCMUL_.callDiscard(self.handle, a.handle, b.handle, value);
}
/** self += value * a / b */
export function addcdiv_(self: Tensor, a: Tensor, b: Tensor, value = 1): void {
  ADDCDIV_.callDiscard(self.handle, a.handle, b.handle, value);
}

const CLAMP_ = op('aten::clamp_', ['self', 'min', 'max']);
export function clamp_(self: Tensor, min?: number | null, max?: number | null): void {
  CLAMP_.callDiscard(self.handle, min ?? null, max ?? null);
}

const ZERO_ = op('aten::zero_', ['self']);
const FILL_ = op('aten::fill_.Scalar', ['self', 'value']);
const COPY_ = op('aten::copy_', ['self', 'src', 'non_blocking']);
const UNIFORM_ = op('aten::uniform_', ['self', 'from', 'to']);
const NORMAL_ = op('aten::normal_', ['self', 'mean', 'std']);
const RELU_ = op('aten::relu_', ['self']);
const SQRT_ = op('aten::sqrt_', ['self']);
export function zero_(self: Tensor): void {
  ZERO_.callDiscard(self.handle);
}
export function fill_(self: Tensor, value: number): void {
  FILL_.callDiscard(self.handle, value);
}
/** Copies `source` (broadcast, any dtype or device) into `self`. */
export function copy_(self: Tensor, source: Tensor, nonBlocking = false): void {
  COPY_.callDiscard(self.handle, source.handle, nonBlocking);
}
export function uniform_(self: Tensor, from = 0, to = 1): void {
  UNIFORM_.callDiscard(self.handle, from, to);
}
export function normal_(self: Tensor, mean = 0, std = 1): void {
  NORMAL_.callDiscard(self.handle, mean, std);
}
export function sqrt_(self: Tensor): void {
  SQRT_.callDiscard(self.handle);
}
export function relu_(self: Tensor): void {
  RELU_.callDiscard(self.handle);
}

const INDEX_ADD_ = op('aten::index_add_', ['self', 'dim', 'index', 'source', 'alpha']);
/** self[index[i]] += alpha * source[i] along `dim` (sums per group without copying self). */
export function indexAdd_(self: Tensor, dim: number, index: Tensor, source: Tensor, alpha = 1): void {
  INDEX_ADD_.callDiscard(self.handle, dim, index.handle, source.handle, alpha);
}

/**
 * self = beta * self + alpha * (mat1 @ mat2), as addmm_, but CPU float32 matrices go through
 * oneDNN's sgemm when libtorch carries oneDNN: it picks its kernels from the instruction set,
 * where OpenBLAS can misidentify a virtual machine's CPU and run several times slower (see
 * native/src/gemm.cc). Anything else (CUDA, other dtypes, tensors needing autograd, no oneDNN) is
 * addmm_. Same result up to float rounding.
 */
export function gemm_(self: Tensor, mat1: Tensor, mat2: Tensor, options: { beta?: number; alpha?: number } = {}): void {
  const beta = options.beta ?? 1;
  const alpha = options.alpha ?? 1;
  if (!native.fastAddmm_(self.handle, mat1.handle, mat2.handle, beta, alpha)) addmm_(self, mat1, mat2, { beta, alpha });
}

/** Whether gemm_ can use oneDNN in this process. */
export function hasFastGemm(): boolean {
  return native.hasFastGemm();
}

const SCATTER_VALUE_ = op('aten::scatter_.value', ['self', 'dim', 'index', 'value']);
/** self[i][index[i][j]] = value for dim 1 (self[index[i][j]][j] for dim 0). */
export function scatterValue_(self: Tensor, dim: number, index: Tensor, value: number): void {
  SCATTER_VALUE_.callDiscard(self.handle, dim, index.handle, value);
}

/**
 * Subtracts `decrease` (K) from every row of `values` (N x K) in place and returns the flat
 * indices i * K + j (int64, row-major order) of the entries then at most `limit[i]` (N), leaving
 * out column `skip[i]` (int64, N) of each row: nonzero((values -= decrease) <= limit[:, None])
 * minus one column per row. On CPU float32 one fused pass (native/src/find-at-most.cc); elsewhere
 * those ops.
 */
export function findAtMost_(values: Tensor, decrease: Tensor, limit: Tensor, skip: Tensor): Tensor {
  if (values.device === 'cpu' && values.dtype === 'float32') {
    return wrap(native.findAtMost_(values.handle, decrease.handle, limit.handle, skip.handle));
  }
  sub_(values, decrease);
  const column = limit.unsqueeze(1);
  const listed = values.le(column);
  const skipped = skip.unsqueeze(1);
  scatterValue_(listed, 1, skipped, 0);
  const flat = listed.view(-1);
  const indices = nonzero(flat);
  const found = indices.squeeze(1);
  for (const t of [column, listed, skipped, flat, indices]) t.dispose();
  return found;
}

const INDEX_COPY_ = op('aten::index_copy_', ['self', 'dim', 'index', 'source']);
/** self[index[i]] = source[i] along `dim` (scatters rows back into place). */
export function indexCopy_(self: Tensor, dim: number, index: Tensor, source: Tensor): void {
  INDEX_COPY_.callDiscard(self.handle, dim, index.handle, source.handle);
}

const ADDMM_ = op('aten::addmm_', ['self', 'mat1', 'mat2', 'beta', 'alpha']);
/** self = beta * self + alpha * (mat1 @ mat2), accumulated by the GEMM into self's memory. */
export function addmm_(
  self: Tensor,
  mat1: Tensor,
  mat2: Tensor,
  options: { beta?: number; alpha?: number } = {},
): void {
  ADDMM_.callDiscard(self.handle, mat1.handle, mat2.handle, options.beta ?? 1, options.alpha ?? 1);
}
