"""FAISS side of bench/cluster/kmeans.ts: faiss.Kmeans as VISSL calls it, on features from an .npy.
Usage: faiss_kmeans.py <features.npy> <k> <niter> <threads>; prints one JSON object."""
import json
import sys
import time

import faiss
import numpy as np


def main():
    path, k, niter, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    faiss.omp_set_num_threads(threads)
    x = np.load(path)
    start = time.perf_counter()
    km = faiss.Kmeans(x.shape[1], k, niter=niter, seed=1234)
    km.train(x)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "objective": float(km.obj[-1]), "faiss": faiss.__version__}))


if __name__ == "__main__":
    main()
