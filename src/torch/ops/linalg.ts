// Matrix products and decompositions (PCA uses eigh or svd).
import { op } from '../dispatch.js';
import { wrap, wrapAll, type Tensor } from '../tensor.js';
import type { Handle } from '../native.js';

const MATMUL = op('aten::matmul', ['self', 'other']);
const MM = op('aten::mm', ['self', 'mat2']);
const BMM = op('aten::bmm', ['self', 'mat2']);
const ADDMM = op('aten::addmm', ['self', 'mat1', 'mat2', 'beta', 'alpha']);
const DOT = op('aten::dot', ['self', 'tensor']);
const EIGH = op('aten::linalg_eigh', ['self', 'UPLO']);
const SVD = op('aten::linalg_svd', ['A', 'full_matrices']);

export function matmul(self: Tensor, other: Tensor): Tensor {
  return wrap(MATMUL.callHandle(self.handle, other.handle));
}
export function mm(self: Tensor, other: Tensor): Tensor {
  return wrap(MM.callHandle(self.handle, other.handle));
}
export function bmm(self: Tensor, other: Tensor): Tensor {
  return wrap(BMM.callHandle(self.handle, other.handle));
}
/** beta * self + alpha * (mat1 @ mat2) */
export function addmm(
  self: Tensor,
  mat1: Tensor,
  mat2: Tensor,
  options: { beta?: number; alpha?: number } = {},
): Tensor {
  return wrap(ADDMM.callHandle(self.handle, mat1.handle, mat2.handle, options.beta ?? 1, options.alpha ?? 1));
}
export function dot(self: Tensor, other: Tensor): Tensor {
  return wrap(DOT.callHandle(self.handle, other.handle));
}

/** Eigen-decomposition of a symmetric matrix: eigenvalues ascending, eigenvectors as columns. */
export function eigh(self: Tensor, uplo: 'L' | 'U' = 'L'): { eigenvalues: Tensor; eigenvectors: Tensor } {
  const [eigenvalues, eigenvectors] = wrapAll(EIGH.call(self.handle, uplo) as Handle[]);
  return { eigenvalues: eigenvalues!, eigenvectors: eigenvectors! };
}

/** Singular value decomposition A = U diag(S) Vh. */
export function svd(self: Tensor, fullMatrices = true): { U: Tensor; S: Tensor; Vh: Tensor } {
  const [U, S, Vh] = wrapAll(SVD.call(self.handle, fullMatrices) as Handle[]);
  return { U: U!, S: S!, Vh: Vh! };
}
