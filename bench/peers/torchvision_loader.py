"""Peer of bench/data/loader.ts: torchvision's DataLoader with PIL decoding, RandomResizedCrop 224,
RandomHorizontalFlip and uint8 collation, over the first N images of an ImageFolder.
Run with /usr/bin/python3 (Debian's python3-torchvision). The workers persist across epochs; the
script runs one epoch per line read from stdin and prints one JSON line per epoch, so the benchmark
can alternate it with ours."""
import argparse
import json
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
args = parser.parse_args()

torch.set_num_threads(1)
transform = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.PILToTensor()])
dataset = Subset(ImageFolder(args.root, transform=transform), range(args.images))
loader = DataLoader(dataset, batch_size=args.batch, shuffle=True, num_workers=args.workers, persistent_workers=args.workers > 0)
for _ in sys.stdin:
    start = time.perf_counter()
    count = 0
    for images, labels in loader:
        assert images.dtype == torch.uint8 and images.shape[1:] == (3, 224, 224)
        count += images.shape[0]
    print(json.dumps({"images_per_s": count / (time.perf_counter() - start)}), flush=True)
