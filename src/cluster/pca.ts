// The feature preprocessing of VISSL's cluster_features_and_label.py: L2 normalisation with its
// +1e-5, and PCA whitening as vissl/utils/pca.py does it (centre, eigendecompose X^T X, keep the
// largest components, scale each by 1/sqrt(eigenvalue), no renormalisation afterwards).
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { checkFeatures } from './assign.js';

/** x / (||x||_2 + eps) per row: VISSL's normalisation, so rows are not exactly unit length. */
export function l2Normalize(x: Tensor, eps = 1e-5): Tensor {
  checkFeatures(x);
  return torch.tidy(() => x.div(x.norm(2, 1, true).add(eps)));
}

const FIT_CHUNK_ROWS = 65536;

/** Rows spread over several ranks (see PCA.fit). */
export interface PCAShard {
  /** Sums a float64 tensor over the ranks, in place (an all-reduce). */
  sum(t: Tensor): void;
}

/** PCA whitening fitted on features; `transform` maps N x d to N x nComponents. */
export class PCA {
  #mean: Tensor | null = null;
  #projection: Tensor | null = null;
  /** Fraction of the total eigenvalue mass the kept components carry (VISSL logs it). */
  keptEnergy = Number.NaN;

  constructor(readonly nComponents: number) {
    if (!(Number.isInteger(nComponents) && nComponents > 0)) {
      throw new Error(`PCA needs a positive integer number of components, got ${nComponents}`);
    }
  }

  /** The feature mean (d), float32. */
  get mean(): Tensor {
    return this.#fitted()[0];
  }

  /** diag(1/sqrt(eigenvalues)) V^T (nComponents x d), float32: VISSL's `DVt`. */
  get projection(): Tensor {
    return this.#fitted()[1];
  }

  #fitted(): [Tensor, Tensor] {
    if (this.#mean === null || this.#projection === null)
      throw new Error('PCA is not fitted: call fit(features) first');
    return [this.#mean, this.#projection];
  }

  /**
   * Fits on `x` (N x d float32). The covariance X^T X of the centred rows is accumulated in
   * float64 over row chunks, so no float64 copy of the features is ever made. Eigenvalues below
   * 1e-5 of the largest are raised to that floor, as VISSL does, so whitening never divides by 0.
   *
   * With `shard.sum`, `x` is one rank's part of rows spread over several ranks: the count and the
   * sum of the rows, then the centred X^T X, are summed over the ranks in float64 (the same two
   * passes as in one process), so every rank fits the PCA of all the rows.
   */
  fit(x: Tensor, shard?: PCAShard): this {
    const [rows, d] = checkFeatures(x);
    if (this.nComponents > d) {
      throw new Error(
        `PCA to ${this.nComponents} components needs at least that many dimensions, the features have ${d}`,
      );
    }
    const [mean, projection, keptEnergy] = torch.tidy(() => {
      const totals = torch.cat([
        x.sum(0, { dtype: 'float64' }),
        torch.tensor([rows], { dtype: 'float64', device: x.device }),
      ]);
      shard?.sum(totals);
      const n = torch.narrow(totals, 0, d, 1).item();
      if (n === 0) throw new Error('PCA cannot be fitted on 0 rows');
      const mean64 = torch.narrow(totals, 0, 0, d).div(n);
      const covariance = torch.zeros([d, d], { dtype: 'float64', device: x.device });
      for (let first = 0; first < rows; first += FIT_CHUNK_ROWS) {
        torch.tidy(() => {
          const centred = torch
            .narrow(x, 0, first, Math.min(FIT_CHUNK_ROWS, rows - first))
            .to('float64')
            .sub(mean64);
          covariance.add_(torch.mm(centred.t(), centred));
        });
      }
      shard?.sum(covariance);
      const { eigenvalues, eigenvectors } = torch.eigh(covariance);
      const floored = eigenvalues.clamp(eigenvalues.max().item() * 1e-5);
      // eigh sorts ascending; VISSL keeps the largest first.
      const values = torch.narrow(torch.flip(floored, [0]), 0, 0, this.nComponents);
      const vectors = torch.narrow(torch.flip(eigenvectors, [1]), 1, 0, this.nComponents);
      const energy = values.sum().item() / floored.sum().item();
      const dvt = vectors.t().div(values.sqrt().unsqueeze(1));
      return [torch.keep(mean64.float()), torch.keep(dvt.float()), energy] as const;
    });
    this.dispose();
    this.#mean = mean;
    this.#projection = projection;
    this.keptEnergy = keptEnergy;
    return this;
  }

  /** (x - mean) DVt^T, float32. */
  transform(x: Tensor): Tensor {
    const [mean, projection] = this.#fitted();
    const [, d] = checkFeatures(x);
    if (d !== mean.shape[0]) {
      throw new Error(`PCA was fitted on ${mean.shape[0]}-d features but got ${d}-d ones`);
    }
    return torch.tidy(() => torch.mm(x.sub(mean), projection.t()));
  }

  fitTransform(x: Tensor): Tensor {
    return this.fit(x).transform(x);
  }

  /** Frees the fitted tensors. */
  dispose(): void {
    this.#mean?.dispose();
    this.#projection?.dispose();
    this.#mean = null;
    this.#projection = null;
  }
}
