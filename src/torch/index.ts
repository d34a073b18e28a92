// clusterfit/torch: a TypeScript tensor library over libtorch. It knows nothing of ClusterFit.
export { Tensor, type Device, type Scalar } from './tensor.js';
export type { DType, MemoryFormat, TypedArray } from './dtype.js';
export { isFloatingPoint, itemSize } from './dtype.js';
export { tidy, keep, scopeDepth } from './scope.js';
export { setGcBudget, gcBudget, gcBudgetCollections } from './gc-budget.js';
export * from './ops/creation.js';
export * from './ops/math.js';
export * from './ops/reduce.js';
export * from './ops/shape.js';
export * from './ops/linalg.js';
export * from './ops/convert.js';
export * from './ops/inplace.js';
export * from './autograd.js';
export * from './runtime.js';
export type { MemoryStats } from './native.js';
export * as functional from './nn/functional.js';
export { op, declaredOps, type Op } from './dispatch.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as io from './io/index.js';
export * as amp from './amp/index.js';
export * as backends from './backends.js';
export * as distributed from './distributed/index.js';
// Types the API above names, so the reference documents them too.
export type { Disposable } from './scope.js';
export type { Handle } from './native.js';
export { MEMORY_FORMAT } from './dtype.js';
