// The binary targets of one class, as VISSL's SVM trainers derive them from a split's targets.
// Two layouts:
// - multi-label (VOC07: N x C of {-1, 0, 1}, as extra_scripts/datasets/create_voc_data_files.py
//   writes them: 1 present, 0 absent, -1 difficult). Training (svm_trainer.py) maps 0 to -1 and so
//   keeps difficult images as negatives; testing, and low-shot training, leave the -1 rows out.
// - single-label (N x 1 class ids, as Places205 in svm_low_shot_trainer.py, and our extractions):
//   one-vs-rest, +1 for the class and -1 for every other, rows with target -1 left out.

/** A split's targets: N rows of `columns` values, row-major. */
export interface TargetMatrix {
  rows: number;
  columns: number;
  values: Int32Array;
}

export function isMultiLabel(targets: TargetMatrix): boolean {
  return targets.columns > 1;
}

/** The classes a split's targets hold: the columns (multi-label) or the sorted distinct ids other than -1. */
export function targetClasses(targets: TargetMatrix): number[] {
  if (isMultiLabel(targets)) return Array.from({ length: targets.columns }, (_, c) => c);
  const ids = new Set<number>();
  for (const v of targets.values) if (v !== -1) ids.add(v);
  return [...ids].sort((a, b) => a - b);
}

/** Rows and their +1/-1 labels for class `cls`. */
export interface BinaryTargets {
  rows: Int32Array;
  labels: Int8Array;
}

/**
 * Class `cls`'s binary targets. `keepIgnored` keeps multi-label -1 rows as negatives (VISSL's
 * train_svm training); otherwise they are left out (its testing, and low-shot training).
 */
export function binaryTargets(targets: TargetMatrix, cls: number, keepIgnored: boolean): BinaryTargets {
  const rows: number[] = [];
  const labels: number[] = [];
  for (let r = 0; r < targets.rows; r++) {
    const v = targets.values[r * targets.columns + (isMultiLabel(targets) ? cls : 0)] as number;
    if (v === -1 && !(keepIgnored && isMultiLabel(targets))) continue;
    rows.push(r);
    labels.push(isMultiLabel(targets) ? (v === 1 ? 1 : -1) : v === cls ? 1 : -1);
  }
  return { rows: Int32Array.from(rows), labels: Int8Array.from(labels) };
}
