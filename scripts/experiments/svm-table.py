"""The SVM results of evaluation folders as one markdown table, for the experiment docs.

    python3 scripts/experiments/svm-table.py <layer> <name>=<eval folder> [...]

Per folder: the test mAP of VISSL's SVM protocol (`<folder>/svm/svm.json`) and, for each k of the
low-shot variant (`<folder>/svm_low_shot/low_shot_svm.json`), the mean and standard deviation of the
mAP over its independent samplings. A missing result is shown as a dash.
"""

import json
import os
import sys


def load(path):
    return json.load(open(path)) if os.path.exists(path) else None


def main():
    layer, pairs = sys.argv[1], [arg.split("=", 1) for arg in sys.argv[2:]]
    rows, ks = [], []
    for name, folder in pairs:
        svm = load(os.path.join(folder, "svm", "svm.json"))
        low = load(os.path.join(folder, "svm_low_shot", "low_shot_svm.json"))
        full = f"{svm['layers'][layer]['meanAp']:.2f}" if svm else "-"
        shots = low["layers"][layer]["results"] if low else {}
        for k in shots:
            if k not in ks:
                ks.append(k)
        rows.append((name, full, shots))
    print("| features | SVM mAP | " + " | ".join(f"low-shot {k}" for k in ks) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in ks) + " |")
    for name, full, shots in rows:
        cells = [f"{shots[k]['mean']:.2f} ± {shots[k]['std']:.2f}" if k in shots else "-" for k in ks]
        print(f"| {name} | {full} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
