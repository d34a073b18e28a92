"""scikit-learn side of bench/eval/svm.ts: VISSL's SVMTrainer loop (vissl/utils/svm_utils/svm_trainer.py)
as VISSL runs it, one Python thread per class, each running cross_val_score and fit for every cost with
VISSL's LinearSVC arguments. Usage: sklearn_svm.py <job.json>; prints one JSON object."""
import json
import resource
import sys
import threading
import time

import numpy as np
import sklearn
from sklearn.model_selection import cross_val_score
from sklearn.svm import LinearSVC


def voc07_ap(labels, scores):
    positive = (labels > 0).astype(np.float64)
    order = np.argsort(scores)[::-1]
    hits = positive[order]
    tp, fp = np.cumsum(hits), np.cumsum(1 - hits)
    rec = np.concatenate([[0.0], tp / positive.sum(), [1.0]])
    prec = np.maximum.accumulate(np.concatenate([[0.0], tp / (tp + fp), [0.0]])[::-1])[::-1]
    i = np.nonzero(rec[1:] != rec[:-1])[0] + 1
    return float(np.sum((rec[i] - rec[i - 1]) * prec[i]))


def main():
    job = json.load(open(sys.argv[1]))
    normalize = lambda x: x / (np.linalg.norm(x, axis=1) + 1e-5)[:, np.newaxis]
    xtr, ytr = normalize(np.load(job["train_x"])), np.load(job["train_y"])
    xte, yte = normalize(np.load(job["test_x"])), np.load(job["test_y"])
    costs, classes = job["costs"], ytr.shape[1]
    crossval = np.zeros((classes, len(costs)))
    models = {}

    def train_cls(c):
        labels = ytr[:, c].astype(np.int32)
        labels[labels == 0] = -1
        for j, cost in enumerate(costs):
            clf = LinearSVC(C=cost, class_weight={1: 2, -1: 1}, intercept_scaling=1.0, penalty="l2",
                            loss="squared_hinge", tol=0.0001, dual=True, max_iter=2000)
            crossval[c, j] = cross_val_score(clf, xtr, labels, cv=job["folds"], scoring="average_precision").mean()
            clf.fit(xtr, labels)
            models[(c, j)] = clf

    start = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    threads = [threading.Thread(target=train_cls, args=(c,)) for c in range(classes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    chosen = np.argmax(crossval, axis=1)
    aps = []
    for c in range(classes):
        keep = yte[:, c] != -1
        aps.append(voc07_ap(yte[keep, c], models[(c, int(chosen[c]))].decision_function(xte[keep])))
    print(json.dumps({"seconds": seconds, "cpu": cpu, "mAP": 100 * float(np.mean(aps)),
                      "chosen_cost": [costs[i] for i in chosen], "sklearn": sklearn.__version__}))


if __name__ == "__main__":
    main()
