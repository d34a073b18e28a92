// The two average precisions of VISSL's SVM benchmark. They differ, and VISSL uses both:
// - scikit-learn's `average_precision_score` (the "average_precision" scorer of cross_val_score),
//   which picks each class's cost: the step-wise sum over distinct score thresholds of
//   (R_n - R_{n-1}) P_n, tied scores forming one threshold;
// - VISSL's own `get_precision_recall` (vissl/utils/svm_utils/evaluate.py, the VOC07 devkit's
//   formula), which scores the test set: precision made non-increasing from the right, then summed
//   over the points where recall changes, each test image its own point.
// These are metrics over a few thousand scores, computed once per class, cost and fold: plain loops.

/** Indices of `scores` from the highest score down; ties keep descending index order (see below). */
function descending(scores: ArrayLike<number>): number[] {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  // numpy's argsort(...)[::-1], as both formulas sort: ascending and stable, then reversed, so equal
  // scores come out in descending index order.
  order.sort((a, b) => (scores[a] as number) - (scores[b] as number) || a - b);
  return order.reverse();
}

/**
 * scikit-learn's average_precision_score(y_true, y_score) with pos_label 1: `positive[i]` says
 * whether row i is of the positive class. NaN when there is no positive (scikit-learn warns and
 * returns a meaningless value there; VISSL's cross-validation never meets it with 3 stratified folds
 * and at least 3 positives).
 */
export function sklearnAveragePrecision(positive: ArrayLike<boolean>, scores: ArrayLike<number>): number {
  const order = descending(scores);
  let total = 0;
  for (const i of order) total += positive[i] ? 1 : 0;
  if (total === 0) return NaN;
  let tp = 0;
  let seen = 0;
  let previousRecall = 0;
  let ap = 0;
  for (let n = 0; n < order.length; n++) {
    const i = order[n] as number;
    tp += positive[i] ? 1 : 0;
    seen += 1;
    // A threshold ends where the next score differs (or at the end): ties are one step.
    const next = order[n + 1];
    if (next !== undefined && scores[next] === scores[i]) continue;
    const recall = tp / total;
    ap += (recall - previousRecall) * (tp / seen);
    previousRecall = recall;
  }
  return ap;
}

/**
 * VISSL's get_precision_recall(targets, scores)[3]: `positive[i]` is targets[i] > 0. NaN when there
 * is no positive (VISSL divides by zero there).
 */
export function visslAveragePrecision(positive: ArrayLike<boolean>, scores: ArrayLike<number>): number {
  const order = descending(scores);
  let total = 0;
  for (const i of order) total += positive[i] ? 1 : 0;
  if (total === 0) return NaN;
  const n = order.length;
  // mrec = [0, R, 1] and mpre = [0, P, 0], as calculate_ap builds them.
  const recall = new Float64Array(n + 2);
  const precision = new Float64Array(n + 2);
  let tp = 0;
  for (let k = 0; k < n; k++) {
    tp += positive[order[k] as number] ? 1 : 0;
    recall[k + 1] = tp / total;
    precision[k + 1] = tp / (k + 1);
  }
  recall[n + 1] = 1;
  for (let k = n; k >= 0; k--) precision[k] = Math.max(precision[k] as number, precision[k + 1] as number);
  let ap = 0;
  for (let k = 1; k < n + 2; k++) {
    if (recall[k] !== recall[k - 1])
      ap += ((recall[k] as number) - (recall[k - 1] as number)) * (precision[k] as number);
  }
  return ap;
}
