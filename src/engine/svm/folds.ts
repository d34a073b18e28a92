// scikit-learn's StratifiedKFold(n_splits).split without shuffling, which cross_val_score uses for a
// classifier when VISSL passes cv=<int>: the classes are numbered in order of first appearance, each
// fold's share of every class is dealt round-robin over the sorted labels, and each class's rows
// are given to the folds in blocks, in row order. Reproducing it exactly makes the cross-validated
// AP, and so the chosen cost, the ones VISSL gets.

/** The test fold (0..folds-1) of each row; `labels` are the class of each row (any numbers). */
export function stratifiedFolds(labels: ArrayLike<number>, folds: number): Int32Array {
  const n = labels.length;
  const firstSeen = new Map<number, number>();
  const encoded = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = labels[i] as number;
    if (!firstSeen.has(label)) firstSeen.set(label, firstSeen.size);
    encoded[i] = firstSeen.get(label) as number;
  }
  const classes = firstSeen.size;
  const counts = new Int32Array(classes);
  for (const k of encoded) counts[k] = (counts[k] as number) + 1;
  if (counts.every((c) => c < folds)) {
    throw new Error(`${folds} cross-validation folds cannot be more than the rows of every class (${[...counts]})`);
  }
  // allocation[f][k]: rows of class k in fold f = entries f, f + folds, ... of the sorted labels.
  const allocation = Array.from({ length: folds }, () => new Int32Array(classes));
  let position = 0;
  for (let k = 0; k < classes; k++) {
    for (let c = 0; c < (counts[k] as number); c++, position++) {
      const fold = allocation[position % folds] as Int32Array;
      fold[k] = (fold[k] as number) + 1;
    }
  }
  const testFold = new Int32Array(n);
  const nextFold = new Int32Array(classes);
  const leftInFold = Int32Array.from({ length: classes }, (_, k) => (allocation[0] as Int32Array)[k] as number);
  for (let i = 0; i < n; i++) {
    const k = encoded[i] as number;
    while ((leftInFold[k] as number) === 0) {
      nextFold[k] = (nextFold[k] as number) + 1;
      leftInFold[k] = (allocation[nextFold[k] as number] as Int32Array)[k] as number;
    }
    testFold[i] = nextFold[k] as number;
    leftInFold[k] = (leftInFold[k] as number) - 1;
  }
  return testFold;
}
