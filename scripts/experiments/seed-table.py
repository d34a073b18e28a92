"""The results of one experiment over several seeds as markdown tables, for the experiment docs.

    python3 scripts/experiments/seed-table.py <run folder of seed 1> <run folder of seed 2> [...]

Each run folder holds `eval_random`, `eval_rotnet` and `eval_clusterfit` (a pipeline's output folder, or a
transfer folder made with `run config=small64/evaluate`). Every cell shows the mean over the seeds and,
in brackets, each seed's own value, so a reader sees the spread instead of a bare mean; a seed whose
result is missing is shown as a dash and left out of the mean. Three tables: linear probe and kNN top-1
per layer; VISSL's SVM protocol (mAP) per layer it was run on (`svm/` and any `svm_<name>/` folder); the
low-shot SVM mAP per k (each seed's value is already the mean over its samplings).
"""

import glob
import json
import os
import sys

ARMS = [("random init", "eval_random"), ("RotNet", "eval_rotnet"), ("ClusterFit", "eval_clusterfit")]


def load(*parts):
    path = os.path.join(*parts)
    return json.load(open(path)) if os.path.exists(path) else None


def cell(values):
    """'mean (v1 / v2 / ...)' over the seeds that have a value."""
    present = [v for v in values if v is not None]
    if not present:
        return "-"
    each = " / ".join("-" if v is None else f"{v:.2f}" for v in values)
    return f"{sum(present) / len(present):.2f} ({each})"


def evaluation_table(runs):
    evals = {folder: [load(run, folder, "evaluation.json") for run in runs] for _, folder in ARMS}
    layers = [entry["layer"] for e in next(iter(evals.values())) if e for entry in e["layers"]]
    layers = list(dict.fromkeys(layers))

    def metric(e, layer, probe):
        if not e:
            return None
        found = [entry for entry in e["layers"] if entry["layer"] == layer]
        return found[0][probe]["top1"] if found else None

    print("| features | linear top-1 | kNN top-1 |")
    print("| --- | ---: | ---: |")
    for layer in layers:
        for name, folder in ARMS:
            linear = [metric(e, layer, "linear") for e in evals[folder]]
            knn = [metric(e, layer, "knn") for e in evals[folder]]
            print(f"| {name}, {layer} | {cell(linear)} | {cell(knn)} |")


def svm_results(eval_folder):
    """Every layer's train_svm result in an evaluation folder: the flatten run writes svm/, runs of other
    layers may write svm_<name>/ beside it."""
    merged = {}
    for entry in sorted(glob.glob(os.path.join(eval_folder, "svm*", "svm.json"))):
        if os.path.basename(os.path.dirname(entry)).startswith("svm_low_shot"):
            continue
        merged.update(json.load(open(entry))["layers"])
    return {"layers": merged} if merged else None


def svm_table(runs):
    results = {folder: [svm_results(os.path.join(run, folder)) for run in runs] for _, folder in ARMS}
    layers = list(dict.fromkeys(layer for rs in results.values() for r in rs if r for layer in r["layers"]))
    if not layers:
        print("(no SVM results yet)")
        return
    print("| features | " + " | ".join(f"SVM mAP, {layer}" for layer in layers) + " |")
    print("| --- | " + " | ".join("---:" for _ in layers) + " |")
    for name, folder in ARMS:
        cells = [
            cell([r["layers"][layer]["meanAp"] if r and layer in r["layers"] else None for r in results[folder]])
            for layer in layers
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


def low_shot_table(runs, layer="flatten"):
    results = {
        folder: [load(run, folder, "svm_low_shot", "low_shot_svm.json") for run in runs] for _, folder in ARMS
    }
    ks = list(dict.fromkeys(k for rs in results.values() for r in rs if r for k in r["layers"][layer]["results"]))
    if not ks:
        print("(no low-shot results yet)")
        return
    print(f"| features ({layer}) | " + " | ".join(f"low-shot {k}" for k in ks) + " |")
    print("| --- | " + " | ".join("---:" for _ in ks) + " |")
    for name, folder in ARMS:

        def mean_at(r, k):
            shots = r["layers"][layer]["results"] if r else {}
            return shots[k]["mean"] if k in shots else None

        print(f"| {name} | " + " | ".join(cell([mean_at(r, k) for r in results[folder]]) for k in ks) + " |")


def main():
    runs = sys.argv[1:]
    if not runs:
        sys.exit(__doc__)
    for table in (evaluation_table, svm_table, low_shot_table):
        table(runs)
        print()


if __name__ == "__main__":
    main()
