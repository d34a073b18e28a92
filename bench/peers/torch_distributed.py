"""PyTorch side of bench/distributed/*.ts: one rank of a torch.distributed job on Gloo, started
with torchrun's variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) like our ranks.

argv[1] is a JSON config. mode "allreduce": {sizes (bytes), iters (per size), threads}: times
`iters` all-reduces of a float32 tensor of each size. mode "ddp": {depth, batch, size, classes,
threads, warmup, steps}: times DDP training steps of a torchvision ResNet (cross entropy, SGD
momentum 0.9, weight decay 1e-4 except on BN parameters). Rank 0 prints `RESULT <json>`.
"""
import json
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
import torchvision


def allreduce(cfg):
    out = []
    for size, iters in zip(cfg["sizes"], cfg["iters"]):
        t = torch.ones(size // 4)
        dist.all_reduce(t)  # warm-up: connections and buffers
        dist.barrier()
        start = time.perf_counter()
        for _ in range(iters):
            dist.all_reduce(t)
        out.append(time.perf_counter() - start)
    return {"seconds": out}


def ddp(cfg):
    torch.manual_seed(0)
    model = getattr(torchvision.models, f"resnet{cfg['depth']}")(num_classes=cfg["classes"])
    model = torch.nn.parallel.DistributedDataParallel(model)
    x = torch.randn(cfg["batch"], 3, cfg["size"], cfg["size"])
    y = torch.randint(0, cfg["classes"], (cfg["batch"],))
    bn = [p for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) for p in m.parameters()]
    bn_ids = {id(p) for p in bn}
    rest = [p for p in model.parameters() if id(p) not in bn_ids]
    optimizer = torch.optim.SGD(
        [{"params": rest, "weight_decay": 1e-4}, {"params": bn, "weight_decay": 0.0}], lr=0.1, momentum=0.9
    )
    model.train()

    def step():
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    for _ in range(cfg["warmup"]):
        step()
    times = []
    for _ in range(cfg["rounds"]):
        dist.barrier()
        start = time.perf_counter()
        for _ in range(cfg["steps"]):
            step()
        times.append(time.perf_counter() - start)
    return {"seconds": times}


def main():
    mode, cfg = sys.argv[1], json.loads(sys.argv[2])
    torch.set_num_threads(cfg["threads"])
    dist.init_process_group("gloo")
    result = allreduce(cfg) if mode == "allreduce" else ddp(cfg)
    result["version"] = torch.__version__
    if dist.get_rank() == 0:
        print("RESULT " + json.dumps(result), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
