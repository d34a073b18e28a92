// The Tensor class: one JS object per native tensor reference. Methods are thin delegations to the
// functional ops (ops/*.ts), so the same names work as `x.add(y)` and `add(x, y)`, as in PyTorch.
import {
  dtypeCode,
  dtypeFromCode,
  itemSize,
  MEMORY_FORMAT,
  typedArrayFor,
  type DType,
  type MemoryFormat,
  type TypedArray,
} from './dtype.js';
import { op } from './dispatch.js';
import { native, type Handle } from './native.js';
import { runBackward } from './backward-errors.js';
import { trackInScope, type Disposable } from './scope.js';
import { releaseHandle } from './release.js';
import * as math from './ops/math.js';
import * as reduce from './ops/reduce.js';
import * as shapeOps from './ops/shape.js';
import * as linalg from './ops/linalg.js';
import * as convert from './ops/convert.js';
import { noteDisposedHandle, noteDroppedHandles } from './gc-budget.js';
import * as inplace from './ops/inplace.js';

/** A device string as PyTorch spells it: 'cpu', 'cuda', 'cuda:1'. */
export type Device = string;

export type Scalar = number | boolean;

// The safety net for tensors that are never disposed: when V8 collects one, its native reference
// is dropped (and counted in memoryStats().reclaimedByGc). Only tensors that no tidy scope owns
// need it (a scope frees its tensors anyway), and registering costs about as much as a tiny op,
// while most such tensors are disposed right after use (`using`, dispose()). So they wait in
// `unregistered` and join in batches: when the batch is full, and at the latest when the running
// synchronous code finishes (a microtask); those disposed by then never register. The wait keeps
// at most one small batch reachable longer than before (which matters for big tensors that code
// leaves to the garbage collector); checking a disposed tensor costs next to nothing, so a small
// batch loses no speed.
const collected = new FinalizationRegistry<Handle>((handle) => native.dispose(handle, true));
const unregistered: Tensor[] = [];
const REGISTER_BATCH = 32;
let registerQueued = false;

// Lifetime states of a Tensor.
const OWNED = 0; // a scope owns it, or it is being constructed
const WAITING = 1; // in `unregistered`
const REGISTERED = 2; // in the safety net
const DISPOSED = 3;

export class Tensor implements Disposable {
  kept?: boolean;
  #handle: Handle;
  #state = OWNED;
  /** The GC budget's generation this tensor joined the safety net in (see gc-budget.ts). */
  #netGeneration = 0;

  /** Wraps a native handle; the new tensor belongs to the innermost `tidy` scope, if any. */
  constructor(handle: Handle) {
    this.#handle = handle;
    if (!trackInScope(this)) this.leaveScopes();
  }

  /** No scope owns this tensor any more: the garbage collector will free it if nothing else does. */
  leaveScopes(): void {
    if (this.#state !== OWNED) return;
    this.#state = WAITING;
    if (unregistered.push(this) >= REGISTER_BATCH) {
      Tensor.#registerWaiting();
    } else if (!registerQueued) {
      registerQueued = true;
      queueMicrotask(() => {
        registerQueued = false;
        Tensor.#registerWaiting();
      });
    }
  }

  static #registerWaiting(): void {
    const joining = unregistered.filter((tensor) => tensor.#state === WAITING);
    unregistered.length = 0;
    if (joining.length === 0) return;
    const netGeneration = noteDroppedHandles(joining.length);
    for (const tensor of joining) {
      tensor.#state = REGISTERED;
      tensor.#netGeneration = netGeneration;
      collected.register(tensor, tensor.#handle, tensor);
    }
  }

  /** The native handle, for passing to operators. Throws once the tensor is disposed. */
  get handle(): Handle {
    if (this.#state === DISPOSED) throw new Error('Tensor used after dispose()');
    return this.#handle;
  }

  // ---- lifetime -------------------------------------------------------------------------------

  /** Drops this reference to the native tensor. Views and other references stay valid. */
  dispose(): void {
    const state = this.#state;
    if (state === DISPOSED) return;
    this.#state = DISPOSED;
    if (state === REGISTERED) {
      collected.unregister(this);
      noteDisposedHandle(this.#netGeneration);
    }
    releaseHandle(this.#handle);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  get isDisposed(): boolean {
    return this.#state === DISPOSED;
  }

  // ---- metadata -------------------------------------------------------------------------------

  get shape(): number[] {
    return native.shape(this.handle);
  }

  /** Alias of `shape`, as `tensor.size()` in PyTorch. */
  size(dim?: number): number[] | number {
    const shape = this.shape;
    if (dim === undefined) return shape;
    const d = dim < 0 ? dim + shape.length : dim;
    const n = shape[d];
    if (n === undefined) throw new RangeError(`dimension ${dim} out of range for a ${shape.length}-d tensor`);
    return n;
  }

  get ndim(): number {
    return this.shape.length;
  }

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get strides(): number[] {
    return native.strides(this.handle);
  }

  get storageOffset(): number {
    return native.storageOffset(this.handle);
  }

  get dtype(): DType {
    return dtypeFromCode(native.dtype(this.handle));
  }

  get device(): Device {
    return native.device(this.handle);
  }

  get isCuda(): boolean {
    return this.device.startsWith('cuda');
  }

  /** Bytes of this tensor's elements (not of its storage). */
  get nbytes(): number {
    return this.numel * itemSize(this.dtype);
  }

  isContiguous(memoryFormat: MemoryFormat = 'contiguous'): boolean {
    return native.isContiguous(this.handle, MEMORY_FORMAT[memoryFormat]);
  }

  /** True when both objects reference the same native tensor. */
  isSameTensor(other: Tensor): boolean {
    return native.sameTensor(this.handle, other.handle);
  }

  toString(): string {
    if (this.#state === DISPOSED) return 'Tensor(disposed)';
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }

  // ---- data -----------------------------------------------------------------------------------

  /** The elements, copied into a typed array of this dtype (row-major, contiguous). */
  data(): TypedArray {
    return typedArrayFor(this.dtype, native.toBuffer(this.handle));
  }

  /** The elements as JS numbers (int64 converted to number), in row-major order. */
  toArray(): number[] {
    const data = this.data();
    if (data instanceof BigInt64Array) return Array.from(data, Number);
    if (this.dtype === 'float16' || this.dtype === 'bfloat16')
      return Array.from(convert.to(this, 'float32').data() as Float32Array);
    return Array.from(data as ArrayLike<number>);
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.numel !== 1)
      throw new Error(`item() needs a tensor with one element, this one has shape [${this.shape.join(', ')}]`);
    const value = ITEM.call(this.handle);
    return typeof value === 'boolean' ? Number(value) : (value as number);
  }

  // ---- autograd -------------------------------------------------------------------------------

  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }

  /** Sets requires_grad in place (leaf tensors only) and returns this tensor. */
  requiresGrad_(requiresGrad = true): this {
    REQUIRES_GRAD_.callDiscard(this.handle, requiresGrad);
    return this;
  }

  /** The accumulated gradient (a new handle to it each time), or null. */
  get grad(): Tensor | null {
    const h = native.getGrad(this.handle);
    return h === null ? null : new Tensor(h);
  }

  set grad(value: Tensor | null) {
    native.setGrad(this.handle, value === null ? null : value.handle);
  }

  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }

  /** Name of the autograd node that produced this tensor, e.g. 'AddBackward0', or null. */
  get gradFn(): string | null {
    return native.gradFnName(this.handle);
  }

  backward(gradient?: Tensor, options: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    runBackward([this.handle], [gradient ? gradient.handle : null], options.retainGraph, options.createGraph ?? false);
  }

  detach(): Tensor {
    return new Tensor(DETACH.callHandle(this.handle));
  }

  // ---- conversion -----------------------------------------------------------------------------

  to(target: DType | Device, options?: convert.ToOptions): Tensor {
    return convert.to(this, target, options);
  }
  float(): Tensor {
    return convert.to(this, 'float32');
  }
  double(): Tensor {
    return convert.to(this, 'float64');
  }
  half(): Tensor {
    return convert.to(this, 'float16');
  }
  long(): Tensor {
    return convert.to(this, 'int64');
  }
  int(): Tensor {
    return convert.to(this, 'int32');
  }
  bool(): Tensor {
    return convert.to(this, 'bool');
  }
  cpu(): Tensor {
    return convert.to(this, 'cpu');
  }
  cuda(device = 0): Tensor {
    return convert.to(this, `cuda:${device}`);
  }
  clone(memoryFormat?: MemoryFormat): Tensor {
    return convert.clone(this, memoryFormat);
  }
  contiguous(memoryFormat: MemoryFormat = 'contiguous'): Tensor {
    return convert.contiguous(this, memoryFormat);
  }

  // ---- elementwise ----------------------------------------------------------------------------

  add(other: Tensor | number, alpha?: number): Tensor {
    return math.add(this, other, alpha);
  }
  sub(other: Tensor | number, alpha?: number): Tensor {
    return math.sub(this, other, alpha);
  }
  mul(other: Tensor | number): Tensor {
    return math.mul(this, other);
  }
  div(other: Tensor | number, roundingMode?: 'trunc' | 'floor'): Tensor {
    return math.div(this, other, roundingMode);
  }
  pow(exponent: Tensor | number): Tensor {
    return math.pow(this, exponent);
  }
  neg(): Tensor {
    return math.neg(this);
  }
  abs(): Tensor {
    return math.abs(this);
  }
  exp(): Tensor {
    return math.exp(this);
  }
  log(): Tensor {
    return math.log(this);
  }
  sqrt(): Tensor {
    return math.sqrt(this);
  }
  square(): Tensor {
    return math.square(this);
  }
  relu(): Tensor {
    return math.relu(this);
  }
  sigmoid(): Tensor {
    return math.sigmoid(this);
  }
  tanh(): Tensor {
    return math.tanh(this);
  }
  clamp(min?: number | null, max?: number | null): Tensor {
    return math.clamp(this, min, max);
  }
  eq(other: Tensor | number): Tensor {
    return math.eq(this, other);
  }
  ne(other: Tensor | number): Tensor {
    return math.ne(this, other);
  }
  lt(other: Tensor | number): Tensor {
    return math.lt(this, other);
  }
  le(other: Tensor | number): Tensor {
    return math.le(this, other);
  }
  gt(other: Tensor | number): Tensor {
    return math.gt(this, other);
  }
  ge(other: Tensor | number): Tensor {
    return math.ge(this, other);
  }

  // ---- reductions -----------------------------------------------------------------------------

  sum(dim?: number | number[], options?: reduce.ReduceOptions): Tensor {
    return reduce.sum(this, dim, options);
  }
  mean(dim?: number | number[], options?: reduce.ReduceOptions): Tensor {
    return reduce.mean(this, dim, options);
  }
  max(): Tensor {
    return reduce.max(this);
  }
  min(): Tensor {
    return reduce.min(this);
  }
  argmax(dim?: number, keepdim?: boolean): Tensor {
    return reduce.argmax(this, dim, keepdim);
  }
  argmin(dim?: number, keepdim?: boolean): Tensor {
    return reduce.argmin(this, dim, keepdim);
  }
  norm(p?: number, dim?: number | number[], keepdim?: boolean): Tensor {
    return reduce.norm(this, p, dim, keepdim);
  }

  // ---- shape ----------------------------------------------------------------------------------

  view(...shape: number[]): Tensor {
    return shapeOps.view(this, shape);
  }
  reshape(...shape: number[]): Tensor {
    return shapeOps.reshape(this, shape);
  }
  permute(...dims: number[]): Tensor {
    return shapeOps.permute(this, dims);
  }
  transpose(dim0: number, dim1: number): Tensor {
    return shapeOps.transpose(this, dim0, dim1);
  }
  t(): Tensor {
    return shapeOps.transpose(this, 0, 1);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return shapeOps.flatten(this, startDim, endDim);
  }
  squeeze(dim?: number): Tensor {
    return shapeOps.squeeze(this, dim);
  }
  unsqueeze(dim: number): Tensor {
    return shapeOps.unsqueeze(this, dim);
  }
  expand(...shape: number[]): Tensor {
    return shapeOps.expand(this, shape);
  }
  repeat(...repeats: number[]): Tensor {
    return shapeOps.repeat(this, repeats);
  }
  flip(dims: number[]): Tensor {
    return shapeOps.flip(this, dims);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return shapeOps.narrow(this, dim, start, length);
  }
  select(dim: number, index: number): Tensor {
    return shapeOps.select(this, dim, index);
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return shapeOps.indexSelect(this, dim, index);
  }
  gather(dim: number, index: Tensor): Tensor {
    return shapeOps.gather(this, dim, index);
  }

  // ---- linear algebra -------------------------------------------------------------------------

  matmul(other: Tensor): Tensor {
    return linalg.matmul(this, other);
  }
  mm(other: Tensor): Tensor {
    return linalg.mm(this, other);
  }

  // ---- in place (for optimizers and initialisation; they return this same object) -------------

  add_(other: Tensor | number, alpha?: number): this {
    inplace.add_(this, other, alpha);
    return this;
  }
  sub_(other: Tensor | number, alpha?: number): this {
    inplace.sub_(this, other, alpha);
    return this;
  }
  mul_(other: Tensor | number): this {
    inplace.mul_(this, other);
    return this;
  }
  div_(other: Tensor | number): this {
    inplace.div_(this, other);
    return this;
  }
  addcmul_(a: Tensor, b: Tensor, value = 1): this {
    inplace.addcmul_(this, a, b, value);
    return this;
  }
  addcdiv_(a: Tensor, b: Tensor, value = 1): this {
    inplace.addcdiv_(this, a, b, value);
    return this;
  }
  clamp_(min?: number | null, max?: number | null): this {
    inplace.clamp_(this, min, max);
    return this;
  }
  zero_(): this {
    inplace.zero_(this);
    return this;
  }
  sqrt_(): this {
    inplace.sqrt_(this);
    return this;
  }
  fill_(value: number): this {
    inplace.fill_(this, value);
    return this;
  }
  copy_(source: Tensor): this {
    inplace.copy_(this, source);
    return this;
  }
  uniform_(from = 0, to = 1): this {
    inplace.uniform_(this, from, to);
    return this;
  }
  normal_(mean = 0, std = 1): this {
    inplace.normal_(this, mean, std);
    return this;
  }
  relu_(): this {
    inplace.relu_(this);
    return this;
  }
}

/** Wraps a handle returned by an operator. */
export function wrap(handle: Handle): Tensor {
  return new Tensor(handle);
}

/** Wraps an operator's list of handles. */
export function wrapAll(handles: Handle[]): Tensor[] {
  return handles.map((h) => new Tensor(h));
}

/** The code of a dtype, or undefined for "leave the default". */
export function optionalDtype(dtype: DType | undefined): number | undefined {
  return dtype === undefined ? undefined : dtypeCode(dtype);
}

// Ops the class itself calls.
const ITEM = op('aten::item', ['self']);
const REQUIRES_GRAD_ = op('aten::requires_grad_', ['self', 'requires_grad']);
const DETACH = op('aten::detach', ['self']);
