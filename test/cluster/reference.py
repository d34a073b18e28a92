"""FAISS's and numpy's answers for the cluster tests. Run as: /usr/bin/python3 reference.py <command> < job.json
Reads features from the .npy paths the job names, writes array outputs as .npy next to them, and
prints a JSON answer."""
import json
import sys

import faiss
import numpy as np


def kmeans(job):
    """faiss.Kmeans as VISSL calls it, plus the parameters a test varies."""
    x = np.load(job["x"])
    params = {"niter": job["niter"], "seed": job.get("seed", 1234), "spherical": job.get("spherical", False)}
    if "max_points_per_centroid" in job:
        params["max_points_per_centroid"] = job["max_points_per_centroid"]
    km = faiss.Kmeans(x.shape[1], job["k"], **params)
    km.train(x)
    np.save(job["centroids"], km.centroids)
    return {
        "objective": [float(s["obj"]) for s in km.iteration_stats],
        "nsplit": [int(s["nsplit"]) for s in km.iteration_stats],
        "imbalance": [float(s["imbalance_factor"]) for s in km.iteration_stats],
    }


def search(job):
    """Nearest centroid of each row by IndexFlatL2, as VISSL's assignment step."""
    x = np.load(job["x"])
    centroids = np.load(job["centroids"])
    index = faiss.IndexFlatL2(centroids.shape[1])
    index.add(centroids)
    distances, labels = index.search(x, 1)
    np.save(job["labels"], labels[:, 0].astype(np.int64))
    np.save(job["distances"], distances[:, 0])
    return {}


def pca(job):
    """The formulas of vissl/utils/pca.py and of the normalisation in cluster_features_and_label.py."""
    x = np.load(job["x"])
    x = x / (np.linalg.norm(x, axis=1) + 1e-5)[:, None]
    np.save(job["normalized"], x)
    mean = x.mean(axis=0)
    centred = (x - mean).astype(np.float64)
    d, v = np.linalg.eigh(centred.T @ centred)
    eps = d.max() * 1e-5
    d[d < eps] = eps
    total = d.sum()
    idx = np.argsort(d)[::-1][: job["n"]]
    d, v = d[idx], v[:, idx]
    dvt = np.diag(1.0 / np.sqrt(d)) @ v.T
    np.save(job["transformed"], ((x - mean) @ dvt.T).astype(np.float32))
    return {"kept_energy": float(d.sum() / total)}


if __name__ == "__main__":
    command = sys.argv[1]
    print(json.dumps({"kmeans": kmeans, "search": search, "pca": pca}[command](json.load(sys.stdin))))
