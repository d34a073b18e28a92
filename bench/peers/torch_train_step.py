"""PyTorch side of bench/models/train-step.ts: the same training step (torchvision ResNet + Linear
classifier, cross entropy, SGD momentum 0.9 with weight decay 1e-4 except on BN parameters), run
on request so the two sides can alternate in rounds.

Protocol: argv[1] is a JSON config {depth, batch, size, classes, threads, device, channelsLast}.
The peer prints {"ready": torch_version} once built, then for each stdin line "<steps> amp|fp32"
runs that many steps and prints {"seconds": s} (device-synchronized wall time). "amp" is PyTorch's
AMP recipe for the device: float16 autocast with a GradScaler on CUDA, bfloat16 autocast (no
scaler: bfloat16 has float32's range) on CPU; "fp32" is the plain float32 step.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F
import torchvision


def main():
    cfg = json.loads(sys.argv[1])
    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    device = cfg["device"]
    model = getattr(torchvision.models, f"resnet{cfg['depth']}")(num_classes=cfg["classes"]).to(device)
    x = torch.randn(cfg["batch"], 3, cfg["size"], cfg["size"], device=device)
    y = torch.randint(0, cfg["classes"], (cfg["batch"],), device=device)
    if cfg["channelsLast"]:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    bn = [p for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) for p in m.parameters()]
    bn_ids = {id(p) for p in bn}
    rest = [p for p in model.parameters() if id(p) not in bn_ids]
    optimizer = torch.optim.SGD(
        [{"params": rest, "weight_decay": 1e-4}, {"params": bn, "weight_decay": 0.0}], lr=0.1, momentum=0.9
    )
    cuda = device.startswith("cuda")
    scaler = torch.cuda.amp.GradScaler() if cuda else None
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    model.train()

    def step(amp):
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda" if cuda else "cpu", dtype=torch.float16 if cuda else torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(model(x), y)
        if amp and scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()

    print(json.dumps({"ready": torch.__version__}), flush=True)
    for line in sys.stdin:
        steps, mode = line.split()
        sync()
        start = time.perf_counter()
        for _ in range(int(steps)):
            step(mode == "amp")
        sync()
        print(json.dumps({"seconds": time.perf_counter() - start}), flush=True)


if __name__ == "__main__":
    main()
