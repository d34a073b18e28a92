// Neighbour order that does not depend on how a matrix product summed. The explorer ranks images by
// the dot product of L2-normalised float32 features; two neighbours whose distances differ by less
// than the rounding error of that product can come out in either order depending on the BLAS's
// blocking, which libtorch 2.x chooses by thread count. Such near ties are ordered by image index
// instead, so the same features give the same neighbours on every machine and thread count.

const UNIT_ROUNDOFF = 2 ** -24; // float32

/**
 * The largest difference two computed distances (2 - 2 a·b, a and b of `dim` float32 values, each
 * row x / (|x| + eps)) can have when their exact values are equal. Normalising a row is off by at
 * most (dim/2 + 3)u relative (the sum of squares, square root, +eps, division), the dot product of
 * two rows of length <= 1 by at most dim·u (any summation order), so one distance is off by at most
 * 2·(2·dim + 6)u and a difference of two by twice that. A worst-case bound: real errors are around
 * sqrt(dim)·u, far below it, so an exact oracle and this search only disagree on a tie whose gap
 * lies within that real error of the bound itself.
 */
export function nearTieTolerance(dim: number): number {
  return (8 * dim + 24) * UNIT_ROUNDOFF;
}

/**
 * `sorted` (ascending by distance) with every run of near ties (each distance within `tolerance`
 * of the one before it) put in index order. Returns the number of leading entries whose order is
 * final: the last run is not, if it reaches the end of `sorted` (more candidates may belong to it).
 */
export function breakNearTies<T extends { index: number; distance: number }>(sorted: T[], tolerance: number): number {
  let start = 0;
  for (let i = 1; i <= sorted.length; i++) {
    if (i < sorted.length && (sorted[i] as T).distance - (sorted[i - 1] as T).distance <= tolerance) continue;
    if (i - start > 1) {
      const run = sorted.slice(start, i).sort((a, b) => a.index - b.index);
      sorted.splice(start, run.length, ...run);
    }
    if (i === sorted.length) return start;
    start = i;
  }
  return sorted.length;
}
