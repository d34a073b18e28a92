"""Peer of bench/data/loader.ts: torchvision's DataLoader with PIL decoding, RandomResizedCrop 224,
RandomHorizontalFlip and uint8 collation, over the first N images of an ImageFolder.
Run with /usr/bin/python3 (Debian's python3-torchvision). The workers persist across epochs; the
script runs one epoch per line read from stdin and prints one JSON line per epoch (images per second
and CPU seconds of this process and its workers), so the benchmark can alternate it with ours."""
import argparse
import json
import os
import sys
import time

import torch
import torchvision.transforms as T
from torch.utils.data import DataLoader, Subset
from torchvision.datasets import ImageFolder

parser = argparse.ArgumentParser()
parser.add_argument("--root", required=True)
parser.add_argument("--workers", type=int, required=True)
parser.add_argument("--images", type=int, required=True)
parser.add_argument("--batch", type=int, default=64)
parser.add_argument("--full", action="store_true", help="+ ColorJitter, ToTensor, Normalize (in the workers)")
parser.add_argument("--device", default="cpu", help="batches go there (pinned memory, non_blocking)")
args = parser.parse_args()

torch.set_num_threads(1)
device = torch.device(args.device)
cuda = device.type == "cuda"
geometric = [T.RandomResizedCrop(224), T.RandomHorizontalFlip()]
photometric = [T.ColorJitter(0.4, 0.4, 0.4, 0.1), T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]
transform = T.Compose(geometric + (photometric if args.full else [T.PILToTensor()]))
dataset = Subset(ImageFolder(args.root, transform=transform), range(args.images))
loader = DataLoader(
    dataset,
    batch_size=args.batch,
    shuffle=True,
    num_workers=args.workers,
    persistent_workers=args.workers > 0,
    pin_memory=cuda,
)


def cpu_seconds(pids):
    """User + system CPU time of each process (all its threads), from /proc."""
    times = {}
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # fields from the third (state) on
        times[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return times


def processes():
    iterator = getattr(loader, "_iterator", None)
    return [os.getpid()] + [w.pid for w in getattr(iterator, "_workers", [])]


for _ in sys.stdin:
    before = cpu_seconds(processes())
    start = time.perf_counter()
    count = 0
    for images, labels in loader:
        assert images.dtype == (torch.float32 if args.full else torch.uint8) and images.shape[1:] == (3, 224, 224)
        images = images.to(device, non_blocking=True)
        count += images.shape[0]
    if cuda:
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    after = cpu_seconds(processes())
    cpu = sum(t - before.get(pid, 0) for pid, t in after.items())
    print(json.dumps({"images_per_s": count / elapsed, "cpu_s": cpu, "images": count}), flush=True)
