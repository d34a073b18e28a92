"""scikit-learn's and numpy's answers for the SVM tests: VISSL's SVM benchmark (tools/train_svm.py,
vissl/utils/svm_utils/) written again from its description, on scikit-learn's LinearSVC. Run as:
/usr/bin/python3 reference.py <command> < job.json. Reads .npy inputs the job names, prints JSON."""
import json
import sys

import numpy as np
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.svm import LinearSVC


def voc07_ap(labels, scores):
    """VISSL's get_precision_recall AP: precision made non-increasing from the right (with 0 appended),
    summed over the points where recall (with 0 before and 1 after) changes."""
    positive = (np.asarray(labels) > 0).astype(np.float64)
    order = np.argsort(np.asarray(scores, dtype=np.float64), kind="stable")[::-1]
    hits = positive[order]
    tp = np.cumsum(hits)
    fp = np.cumsum(1 - hits)
    recall = np.concatenate([[0.0], tp / positive.sum(), [1.0]])
    precision = np.concatenate([[0.0], tp / (tp + fp), [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    changes = np.nonzero(recall[1:] != recall[:-1])[0] + 1
    return float(np.sum((recall[changes] - recall[changes - 1]) * precision[changes]))


def svc(cost, job):
    return LinearSVC(
        C=cost,
        class_weight={1: 2, -1: 1},
        intercept_scaling=1.0,
        penalty=job.get("penalty", "l2"),
        loss=job.get("loss", "squared_hinge"),
        tol=0.0001,
        dual=job.get("dual", True),
        max_iter=job.get("max_iter", 2000),
        random_state=0,
    )


def normalize(x):
    return x / (np.linalg.norm(x, axis=1) + 1e-5)[:, np.newaxis]


def binary(targets, cls, train):
    """Rows and +1/-1 labels of one class: multi-label {-1,0,1} columns (training keeps -1 rows as
    negatives, testing drops them) or single-label ids (one-vs-rest, -1 rows dropped)."""
    if targets.shape[1] > 1:
        column = targets[:, cls]
        rows = np.arange(len(column)) if train else np.nonzero(column != -1)[0]
        return rows, np.where(column[rows] == 1, 1, -1)
    column = targets[:, 0]
    rows = np.nonzero(column != -1)[0]
    return rows, np.where(column[rows] == cls, 1, -1)


def classes_of(targets):
    if targets.shape[1] > 1:
        return list(range(targets.shape[1]))
    return sorted(set(int(v) for v in targets[:, 0] if v != -1))


def train_svm(job):
    """SVMTrainer.train then .test on the job's features and targets."""
    xtr = np.load(job["train_x"]).astype(np.float32)
    ytr = np.load(job["train_y"]).reshape(len(xtr), -1)
    xte = np.load(job["test_x"]).astype(np.float32)
    yte = np.load(job["test_y"]).reshape(len(xte), -1)
    if job.get("normalize", True):
        xtr, xte = normalize(xtr), normalize(xte)
    costs = job["costs"]
    classes = classes_of(ytr)
    crossval = np.zeros((len(classes), len(costs)))
    models = {}
    for i, cls in enumerate(classes):
        rows, labels = binary(ytr, cls, True)
        for j, cost in enumerate(costs):
            clf = svc(cost, job)
            crossval[i, j] = cross_val_score(
                clf, xtr[rows], labels, cv=job["folds"], scoring="average_precision"
            ).mean()
            clf.fit(xtr[rows], labels)
            models[(i, j)] = clf
    chosen = np.argmax(crossval, axis=1)
    test_ap = []
    for i, cls in enumerate(classes):
        clf = models[(i, int(chosen[i]))]
        rows, labels = binary(yte, cls, False)
        test_ap.append(voc07_ap(labels, clf.decision_function(xte[rows])))
    return {
        "classes": classes,
        "crossval_ap": crossval.tolist(),
        "chosen_cost": [costs[c] for c in chosen],
        "test_ap": test_ap,
        "weights": {f"{cls}_{j}": models[(i, j)].coef_[0].tolist() + [float(models[(i, j)].intercept_[0])]
                    for i, cls in enumerate(classes) for j in range(len(costs))},
    }


def fit(job):
    """One LinearSVC on the rows the job names (already normalised features)."""
    x = np.load(job["x"]).astype(np.float32)
    rows = np.asarray(job["rows"], dtype=np.int64)
    clf = svc(job["cost"], job)
    clf.fit(x[rows], np.asarray(job["labels"]))
    return {"weights": clf.coef_[0].tolist() + [float(clf.intercept_[0])]}


def average_precision(job):
    labels = np.asarray(job["labels"])
    scores = np.asarray(job["scores"], dtype=np.float64)
    return {"sklearn": float(average_precision_score(labels, scores)), "voc07": voc07_ap(labels, scores)}


def folds(job):
    out = np.zeros(len(job["labels"]), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=job["folds"])
    for f, (_, test) in enumerate(splitter.split(np.zeros(len(job["labels"])), job["labels"])):
        out[test] = f
    return {"folds": out.tolist()}


def low_shot_aggregate(job):
    """aggregate_stats on the per-sample files: per k, stats over samples, at the best mean's cost."""
    out = {}
    for k in job["k_values"]:
        rows = np.concatenate([np.load(f"{job['dir']}/test_ap_sample{s}_k{k}.npy") for s in job["sample_inds"]])
        mean, lo, hi, std = rows.mean(0), rows.min(0), rows.max(0), rows.std(0)
        best = int(np.argmax(mean))
        out[f"k={k}"] = {name: round(100.0 * float(v[best]), 2)
                         for name, v in [("mean", mean), ("min", lo), ("max", hi), ("std", std)]}
    return out


if __name__ == "__main__":
    command = sys.argv[1]
    job = json.load(sys.stdin)
    print(json.dumps(globals()[command](job)))
