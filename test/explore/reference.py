"""scikit-learn's clustering scores for the explorer's tests: JSON in, JSON out."""
import json
import sys

from sklearn import metrics


def scores(job):
    out = []
    for case in job["cases"]:
        clusters, classes = case["clusters"], case["classes"]
        table = metrics.cluster.contingency_matrix(classes, clusters)
        out.append(
            {
                "purity": float(table.max(axis=0).sum() / table.sum()),
                "nmi": float(metrics.normalized_mutual_info_score(classes, clusters)),
                "ari": float(metrics.adjusted_rand_score(classes, clusters)),
            }
        )
    return out


if __name__ == "__main__":
    job = json.load(sys.stdin)
    print(json.dumps({"scores": scores}[sys.argv[1]](job)))
