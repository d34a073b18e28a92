"""PyTorch side of bench/torch/matmul-precision.ts: torch.mm of a row block X (rows x d) by the
centroids transposed (d x K, contiguous), in float32 or bfloat16, the inputs cast once outside the
timing.

Two modes:
  * long-lived (no arguments): reads one JSON request per line on stdin and answers one JSON line,
    so the TS side alternates its rounds with these under the same machine load. Requests:
    {"kind": "info"}, {"kind": "threads", "threads": n},
    {"kind": "mm", "rows": r, "d": d, "k": k, "dtype": "float32" | "bfloat16", "reps": n}
    -> {"seconds": s}, the wall time of `reps` products in a row after one warm-up product.
  * --once '<json>': two products of that shape and dtype (the second timed: {"seconds": s}), then
    exit ("onednn": false in the request turns libtorch's oneDNN use off). The TS side runs it with
    ONEDNN_VERBOSE=1 in the environment to see which oneDNN implementation (if any) runs.
"""
import json
import sys
import time

import torch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
_inputs = {}


def inputs(rows, d, k, dtype):
    """The same kind of data as the TS side: standard normal rows and centroids, cast once."""
    key = (rows, d, k, dtype)
    if key not in _inputs:
        _inputs.clear()  # one shape at a time: the largest pair takes hundreds of MB
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(rows, d, generator=gen)
        centroids_t = torch.randn(k, d, generator=gen).t().contiguous()
        _inputs[key] = (x.to(DTYPES[dtype]), centroids_t.to(DTYPES[dtype]))
    return _inputs[key]


def mm_seconds(request):
    x, c = inputs(request["rows"], request["d"], request["k"], request["dtype"])
    torch.mm(x, c)  # warm-up: oneDNN creates (JIT-compiles) its primitive on the first call
    start = time.perf_counter()
    for _ in range(request["reps"]):
        torch.mm(x, c)
    return time.perf_counter() - start


def answer(request):
    kind = request["kind"]
    if kind == "info":
        return {"torch": torch.__version__, "config": torch.__config__.show()}
    if kind == "threads":
        torch.set_num_threads(request["threads"])
        return {"threads": torch.get_num_threads()}
    if kind == "mm":
        return {"seconds": mm_seconds(request)}
    raise ValueError(f"unknown request kind {kind!r}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--once":
        request = json.loads(sys.argv[2])
        torch.set_num_threads(request["threads"])
        # "onednn": false is what libtorch does on a CPU without AVX-512 BW/VL/DQ: ATen's own loop.
        with torch.backends.mkldnn.flags(enabled=request.get("onednn", True)):
            print(json.dumps({"seconds": mm_seconds({**request, "reps": 1})}), flush=True)
        return
    for line in sys.stdin:
        print(json.dumps(answer(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
