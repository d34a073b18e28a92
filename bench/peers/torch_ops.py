"""PyTorch side of bench/torch/ops.ts: the same measurements, printed as one JSON object."""
import json
import sys
import time

import torch
import torch.nn.functional as F


def tiny_op_us(iterations):
    a, b = torch.ones(1), torch.ones(1)
    for _ in range(1000):
        torch.add(a, b)
    start = time.perf_counter()
    for _ in range(iterations):
        torch.add(a, b)
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


def main():
    cfg = json.loads(sys.argv[1])
    torch.set_num_threads(cfg["threads"])
    out = {"tinyOpUs": tiny_op_us(cfg["tinyIterations"]), "torch": torch.__version__}
    out["convBlock"] = [conv_block_images_per_s(block, cfg["device"]) for block in cfg["blocks"]]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
