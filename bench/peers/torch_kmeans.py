"""Plain PyTorch k-means, the GPU peer of bench/cluster/kmeans.ts (--torch-peer): what a PyTorch user
writes by hand. Lloyd iterations in float32 (TF32 off, PyTorch's default for matmul): per chunk of
rows, ||c||^2 - 2 x c^T by one GEMM, argmin, index_add_ of the rows into the centroid sums; empty
clusters keep their centroid. Its data are its own: n points around k/2 Gaussian centres with noise
0.5 (the recipe of the benchmark's synthetic features, not the same numbers), so compare seconds;
objectives only roughly.

argv: n d k niter device [chunk]. Prints one JSON line {"seconds", "objective", "torch"}.
"""
import json
import sys
import time

import torch


def main():
    n, d, k, niter = (int(v) for v in sys.argv[1:5])
    device = torch.device(sys.argv[5])
    chunk = int(sys.argv[6]) if len(sys.argv) > 6 else 16384
    torch.manual_seed(0)
    centres = torch.randn(max(1, k // 2), d, device=device)
    x = centres[torch.randint(0, centres.shape[0], (n,), device=device)]
    x.add_(torch.randn(n, d, device=device).mul_(0.5))
    del centres
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    c = x[torch.randperm(n, device=device)[:k]].clone()
    objective = 0.0
    for _ in range(niter):
        sums = torch.zeros(k, d, device=device)
        counts = torch.zeros(k, device=device)
        cnorm = c.square().sum(1)
        total = torch.zeros((), dtype=torch.float64, device=device)
        for first in range(0, n, chunk):
            rows = x[first : first + chunk]
            dist = torch.addmm(cnorm.unsqueeze(0), rows, c.t(), beta=1, alpha=-2)
            best, labels = dist.min(1)
            total += (best + rows.square().sum(1)).sum(dtype=torch.float64)
            sums.index_add_(0, labels, rows)
            counts += torch.bincount(labels, minlength=k)
        nonempty = counts > 0
        c[nonempty] = sums[nonempty] / counts[nonempty].unsqueeze(1)
        objective = total.item()
    sync()
    print(json.dumps({"seconds": time.perf_counter() - start, "objective": objective, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
