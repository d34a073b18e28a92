"""Peer of bench/tasks/extract.ts: ResNet-50 `res5` feature extraction with PyTorch.

torchvision's resnet50 in eval mode under no_grad, fed by torchvision's DataLoader with PIL
(Resize 256, CenterCrop 224, ToTensor, Normalize), pooled to 2048-d as VISSL's res5 map does.
--device cuda moves the model and each batch (pinned, non-blocking) to the GPU. --amp runs each
batch's forward under torch.autocast: bfloat16 on CPU, float16 on CUDA.
Prints one JSON line: {"images": n, "seconds": s, "images_per_sec": r}.
"""
import argparse
import json
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T


class FileList(torch.utils.data.Dataset):
    def __init__(self, paths, transform):
        self.paths, self.transform = paths, transform

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with open(self.paths[i], "rb") as f:
            return self.transform(Image.open(f).convert("RGB")), i


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--filelist", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--amp", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    torch.set_num_threads(args.threads)
    transform = T.Compose(
        [T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]
    )
    paths = [str(p) for p in np.load(args.filelist)]
    loader = torch.utils.data.DataLoader(
        FileList(paths, transform), batch_size=args.batch, num_workers=args.workers, shuffle=False, pin_memory=cuda
    )
    model = torchvision.models.resnet50().eval().to(device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    trunk = torch.nn.Sequential(*list(model.children())[:-2])
    pool = torch.nn.AvgPool2d((7, 7), 1, 0)
    start = time.perf_counter()
    count = 0
    with torch.no_grad():
        for images, _ in loader:
            images = images.to(device, non_blocking=True)
            if args.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.float16 if cuda else torch.bfloat16, enabled=args.amp):
                features = pool(trunk(images)).flatten(1)
            features = features.float().cpu()  # float32 on the host, as a writer needs them
            count += features.shape[0]
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    print(json.dumps({"images": count, "seconds": seconds, "images_per_sec": count / seconds}))


if __name__ == "__main__":
    main()
