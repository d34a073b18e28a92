"""PyTorch side of bench/torch/ops.ts.

A long-lived peer: it reads one JSON request per line on stdin and answers one JSON line on
stdout, so the TS side can alternate its own measurements with these in rounds, in one process
pair, and both sides are measured under the same machine load.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F


def tiny_inputs(case):
    # The same inputs as bench/torch/ops.ts: two small float32 tensors.
    a = torch.ones(case["elements"])
    b = torch.ones(case["elements"])
    return a, b


# One loop per case, written as a user writes it; each result is freed as soon as the next
# iteration rebinds `r` (CPython's reference counting), which is what `dispose()` does on our side.
def loop_add(a, b, n):
    for _ in range(n):
        r = a.add(b)
    return r


def loop_mul_scalar(a, b, n):
    for _ in range(n):
        r = a.mul(2.5)
    return r


def loop_relu(a, b, n):
    for _ in range(n):
        r = a.relu()
    return r


def loop_sum(a, b, n):
    for _ in range(n):
        r = a.sum()
    return r


LOOPS = {"add": loop_add, "mulScalar": loop_mul_scalar, "relu": loop_relu, "sum": loop_sum}


def tiny_op_us(case, iterations):
    a, b = tiny_inputs(case)
    loop = LOOPS[case["op"]]
    start = time.perf_counter()
    loop(a, b, iterations)
    return (time.perf_counter() - start) / iterations * 1e6


def conv_block_images_per_s(cfg, device):
    torch.manual_seed(0)
    n, c, h = cfg["batch"], cfg["channels"], cfg["size"]
    x = torch.randn(n, c, h, h, device=device)
    w = (torch.randn(c, c, 3, 3, device=device) * 0.05).requires_grad_()
    gamma = torch.ones(c, device=device, requires_grad=True)
    beta = torch.zeros(c, device=device, requires_grad=True)
    mean, var = torch.zeros(c, device=device), torch.ones(c, device=device)
    if cfg.get("channels_last"):
        x = x.contiguous(memory_format=torch.channels_last)
        w = w.detach().contiguous(memory_format=torch.channels_last).requires_grad_()

    def step():
        y = F.relu(F.batch_norm(F.conv2d(x, w, None, padding=1), mean, var, gamma, beta, training=True))
        y.sum().backward()
        w.grad = None
        gamma.grad = None
        beta.grad = None

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for _ in range(cfg["warmup"]):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(cfg["iterations"]):
        step()
    sync()
    return n * cfg["iterations"] / (time.perf_counter() - start)


def answer(request):
    kind = request["kind"]
    if kind == "info":
        return {"torch": torch.__version__}
    if kind == "threads":
        torch.set_num_threads(request["threads"])
        return {"threads": torch.get_num_threads()}
    if kind == "tiny":
        return {"us": tiny_op_us(request["case"], request["iterations"])}
    if kind == "conv":
        return {"imagesPerSecond": conv_block_images_per_s(request["block"], request["device"])}
    raise ValueError(f"unknown request kind {kind!r}")


def main():
    for line in sys.stdin:
        print(json.dumps(answer(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
