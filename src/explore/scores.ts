// How well a clustering matches ground-truth classes: purity, normalised mutual information
// (arithmetic mean of the entropies, scikit-learn's default) and the adjusted Rand index, all from
// one clusters x classes contingency table computed by libtorch (bincount of cluster * C + class).
import { bincount, maxDim, tidy, type Tensor } from '../torch/index.js';

export interface ClusterScores {
  purity: number;
  nmi: number;
  ari: number;
}

/** The K x C table of how many images of class c are in cluster k (float64). */
export function contingency(clusters: Tensor, classes: Tensor, k: number, c: number): Tensor {
  return tidy(() =>
    bincount(clusters.to('int64').mul(c).add(classes.to('int64')), k * c)
      .to('float64')
      .reshape(k, c),
  );
}

/** x log x summed, with 0 log 0 = 0. */
function xlogx(x: Tensor): number {
  return x.mul(x.clamp(1, null).log()).sum().item();
}

/** n(n-1)/2 summed: pairs inside each cell. */
function pairs(x: Tensor): number {
  return x.mul(x.sub(1)).sum().item() / 2;
}

export function clusterScores(table: Tensor): ClusterScores {
  return tidy(() => {
    const n = table.sum().item();
    const rows = table.sum(1);
    const cols = table.sum(0);
    const purity = n > 0 ? maxDim(table, 1).values.sum().item() / n : 0;
    const usedRows = rows.gt(0).sum().item();
    const usedCols = cols.gt(0).sum().item();
    // Entropies and mutual information in nats, written with sum x log x so empty cells cost nothing.
    const logN = Math.log(n);
    const hRows = logN - xlogx(rows) / n;
    const hCols = logN - xlogx(cols) / n;
    const mi = (xlogx(table) - xlogx(rows) - xlogx(cols)) / n + logN;
    // scikit-learn: one cluster and one class (or none) is a perfect match; else MI / mean entropy.
    const nmi =
      usedRows === usedCols && usedRows <= 1 ? 1 : Math.max(0, mi) / Math.max((hRows + hCols) / 2, Number.EPSILON);
    const sumCells = pairs(table);
    const sumRows = pairs(rows);
    const sumCols = pairs(cols);
    const expected = (sumRows * sumCols) / ((n * (n - 1)) / 2);
    const maximum = (sumRows + sumCols) / 2;
    const ari = maximum === expected ? 1 : (sumCells - expected) / (maximum - expected);
    return { purity, nmi, ari };
  });
}
