// Shape, indexing and joining ops. Views share storage with their input, as in PyTorch.
import { op } from '../dispatch.js';
import { wrap, wrapAll, type Tensor } from '../tensor.js';
import type { Handle } from '../native.js';

const VIEW = op('aten::view', ['self', 'size']);
const RESHAPE = op('aten::reshape', ['self', 'shape']);
const PERMUTE = op('aten::permute', ['self', 'dims']);
const TRANSPOSE = op('aten::transpose.int', ['self', 'dim0', 'dim1']);
const FLATTEN = op('aten::flatten.using_ints', ['self', 'start_dim', 'end_dim']);
const SQUEEZE = op('aten::squeeze', ['self']);
const SQUEEZE_DIM = op('aten::squeeze.dim', ['self', 'dim']);
const UNSQUEEZE = op('aten::unsqueeze', ['self', 'dim']);
const EXPAND = op('aten::expand', ['self', 'size', 'implicit']);
const REPEAT = op('aten::repeat', ['self', 'repeats']);
const FLIP = op('aten::flip', ['self', 'dims']);
const ROT90 = op('aten::rot90', ['self', 'k', 'dims']);
const ROLL = op('aten::roll', ['self', 'shifts', 'dims']);
const NARROW = op('aten::narrow', ['self', 'dim', 'start', 'length']);
const SELECT = op('aten::select.int', ['self', 'dim', 'index']);
const SLICE = op('aten::slice.Tensor', ['self', 'dim', 'start', 'end', 'step']);
const AS_STRIDED = op('aten::as_strided', ['self', 'size', 'stride', 'storage_offset']);

export function view(self: Tensor, shape: number[]): Tensor {
  return wrap(VIEW.callHandle(self.handle, shape));
}
export function reshape(self: Tensor, shape: number[]): Tensor {
  return wrap(RESHAPE.callHandle(self.handle, shape));
}
export function permute(self: Tensor, dims: number[]): Tensor {
  return wrap(PERMUTE.callHandle(self.handle, dims));
}
export function transpose(self: Tensor, dim0: number, dim1: number): Tensor {
  return wrap(TRANSPOSE.callHandle(self.handle, dim0, dim1));
}
export function flatten(self: Tensor, startDim = 0, endDim = -1): Tensor {
  return wrap(FLATTEN.callHandle(self.handle, startDim, endDim));
}
/** Removes dimensions of size 1 (all of them, or only `dim`). */
export function squeeze(self: Tensor, dim?: number): Tensor {
  return wrap(dim === undefined ? SQUEEZE.callHandle(self.handle) : SQUEEZE_DIM.callHandle(self.handle, dim));
}
export function unsqueeze(self: Tensor, dim: number): Tensor {
  return wrap(UNSQUEEZE.callHandle(self.handle, dim));
}
/** A broadcast view; -1 keeps a dimension's size. */
export function expand(self: Tensor, shape: number[]): Tensor {
  return wrap(EXPAND.callHandle(self.handle, shape, false));
}
export function expandAs(self: Tensor, other: Tensor): Tensor {
  return expand(self, other.shape);
}
export function repeat(self: Tensor, repeats: number[]): Tensor {
  return wrap(REPEAT.callHandle(self.handle, repeats));
}
export function flip(self: Tensor, dims: number[]): Tensor {
  return wrap(FLIP.callHandle(self.handle, dims));
}
/** Rotates by k * 90 degrees in the plane of `dims`, from the first towards the second axis. */
export function rot90(self: Tensor, k = 1, dims: [number, number] = [0, 1]): Tensor {
  return wrap(ROT90.callHandle(self.handle, k, dims));
}
export function roll(self: Tensor, shifts: number | number[], dims: number | number[] = []): Tensor {
  return wrap(ROLL.callHandle(self.handle, shifts, dims));
}
export function narrow(self: Tensor, dim: number, start: number, length: number): Tensor {
  return wrap(NARROW.callHandle(self.handle, dim, start, length));
}
export function select(self: Tensor, dim: number, index: number): Tensor {
  return wrap(SELECT.callHandle(self.handle, dim, index));
}
/** self[start:end:step] along `dim` (end omitted: to the end). */
export function slice(self: Tensor, dim: number, start = 0, end?: number, step = 1): Tensor {
  return wrap(SLICE.callHandle(self.handle, dim, start, end ?? null, step));
}
export function asStrided(self: Tensor, shape: number[], strides: number[], storageOffset?: number): Tensor {
  return wrap(AS_STRIDED.callHandle(self.handle, shape, strides, storageOffset ?? null));
}

const CAT = op('aten::cat', ['tensors', 'dim']);
const STACK = op('aten::stack', ['tensors', 'dim']);
export function cat(tensors: Tensor[], dim = 0): Tensor {
  return wrap(
    CAT.callHandle(
      tensors.map((t) => t.handle),
      dim,
    ),
  );
}
export function stack(tensors: Tensor[], dim = 0): Tensor {
  return wrap(
    STACK.callHandle(
      tensors.map((t) => t.handle),
      dim,
    ),
  );
}

const SPLIT = op('aten::split.Tensor', ['self', 'split_size', 'dim']);
const SPLIT_WITH_SIZES = op('aten::split_with_sizes', ['self', 'split_sizes', 'dim']);
const CHUNK = op('aten::chunk', ['self', 'chunks', 'dim']);
/** Splits into pieces of `size` (the last may be smaller), or of the given sizes. */
export function split(self: Tensor, size: number | number[], dim = 0): Tensor[] {
  const result =
    typeof size === 'number' ? SPLIT.call(self.handle, size, dim) : SPLIT_WITH_SIZES.call(self.handle, size, dim);
  return wrapAll(result as Handle[]);
}
export function chunk(self: Tensor, chunks: number, dim = 0): Tensor[] {
  return wrapAll(CHUNK.call(self.handle, chunks, dim) as Handle[]);
}

const INDEX_SELECT = op('aten::index_select', ['self', 'dim', 'index']);
const GATHER = op('aten::gather', ['self', 'dim', 'index', 'sparse_grad']);
const SCATTER_ADD = op('aten::scatter_add', ['self', 'dim', 'index', 'src']);
const INDEX_ADD = op('aten::index_add', ['self', 'dim', 'index', 'source', 'alpha']);
const INDEX = op('aten::index.Tensor', ['self', 'indices']);
const MASKED_FILL = op('aten::masked_fill.Scalar', ['self', 'mask', 'value']);
const NONZERO = op('aten::nonzero', ['self']);

export function indexSelect(self: Tensor, dim: number, index: Tensor): Tensor {
  return wrap(INDEX_SELECT.callHandle(self.handle, dim, index.handle));
}
export function gather(self: Tensor, dim: number, index: Tensor): Tensor {
  return wrap(GATHER.callHandle(self.handle, dim, index.handle, false));
}
/** A copy of self with src added at `index` along `dim` (out[index[i][j]][j] += src[i][j] for dim 0). */
export function scatterAdd(self: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  return wrap(SCATTER_ADD.callHandle(self.handle, dim, index.handle, src.handle));
}
/** A copy of self with alpha * source[i] added to the slice index[i] along `dim`. */
export function indexAdd(self: Tensor, dim: number, index: Tensor, source: Tensor, alpha = 1): Tensor {
  return wrap(INDEX_ADD.callHandle(self.handle, dim, index.handle, source.handle, alpha));
}
/** Advanced indexing, self[i0, i1, ...]; null leaves a dimension whole. */
export function index(self: Tensor, indices: (Tensor | null)[]): Tensor {
  return wrap(
    INDEX.callHandle(
      self.handle,
      indices.map((t) => t?.handle ?? null),
    ),
  );
}
export function maskedFill(self: Tensor, mask: Tensor, value: number): Tensor {
  return wrap(MASKED_FILL.callHandle(self.handle, mask.handle, value));
}
/** Positions of the nonzero (true) elements, int64 of shape [count, self.dim]. On CUDA the count
 * makes the host wait for the device. */
export function nonzero(self: Tensor): Tensor {
  return wrap(NONZERO.callHandle(self.handle));
}
