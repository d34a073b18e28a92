// Matrix products and decompositions (PCA uses eigh or svd).
import { op } from '../dispatch.js';
import { wrap, wrapAll, type Tensor } from '../tensor.js';
import { native, type Handle } from '../native.js';
import { zeros } from './creation.js';
import { cat, indexSelect, narrow } from './shape.js';

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

/**
 * The dot products of listed row pairs, out[p] = a[aRows[p]] . b[bRows[p]] (a sampled a @ b^T,
 * SDDMM): for when only a small, scattered part of the product is needed. `a` (n x d) and `b`
 * (m x d) float, `aRows` and `bRows` int64 of one length. On CPU float32 a native loop computes
 * each pair in place (list the pairs row by row of `a`: consecutive pairs then share its row in
 * cache; native/src/pair-dots.cc); anything else gathers both rows of each pair, in blocks.
 */
export function pairDots(a: Tensor, b: Tensor, aRows: Tensor, bRows: Tensor): Tensor {
  if (a.device === 'cpu' && a.dtype === 'float32' && b.device === 'cpu' && b.dtype === 'float32') {
    return wrap(native.pairDots(a.handle, b.handle, aRows.handle, bRows.handle));
  }
  const count = aRows.shape[0]!;
  if (bRows.shape[0] !== count) {
    throw new Error(`pairDots: aRows has ${count} entries and bRows ${bRows.shape[0]}; give one of each per pair`);
  }
  // Each block gathers two (pairs x d) copies: keep them near 64 MiB of float32.
  const block = Math.max(1, Math.floor(2 ** 23 / Math.max(1, a.shape[1]!)));
  const parts: Tensor[] = [];
  for (let first = 0; first < count; first += block) {
    const length = Math.min(block, count - first);
    const select = (t: Tensor, rows: Tensor): Tensor => {
      const some = narrow(rows, 0, first, length);
      const picked = indexSelect(t, 0, some);
      some.dispose();
      return picked;
    };
    const rowsOfA = select(a, aRows);
    const rowsOfB = select(b, bRows);
    parts.push(rowsOfA.mul_(rowsOfB).sum(1));
    rowsOfA.dispose();
    rowsOfB.dispose();
  }
  if (parts.length === 1) return parts[0]!;
  const all = parts.length === 0 ? zeros([0], { dtype: a.dtype, device: a.device }) : cat(parts);
  parts.forEach((t) => t.dispose());
  return all;
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
