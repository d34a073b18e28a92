"""torchvision's answers for the data tests. Run as: /usr/bin/python3 reference.py <command> < job.json
Prints a JSON answer; image outputs are written as raw bytes next to the paths the job names."""
import json
import sys

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image


def make_images(job):
    """Writes the test images: smooth gradients plus texture, so resampling differences stay small."""
    for spec in job:
        w, h = spec["width"], spec["height"]
        y, x = np.mgrid[0:h, 0:w]
        rgb = np.stack([x * 255 / max(w - 1, 1), y * 255 / max(h - 1, 1), 128 + 60 * np.sin(x / 5.0) * np.cos(y / 7.0)], -1)
        if spec.get("pattern") == "extremes":  # only 0 and 255: resampling sums at their bounds
            rgb = np.random.default_rng(0).integers(0, 2, (h, w, 3)) * 255
            rgb[: h // 2, : w // 2] = 255
        im = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
        mode = spec.get("mode", "RGB")
        if mode == "I;16":
            im = Image.fromarray((np.clip(rgb[..., 0], 0, 255) * 257).astype(np.uint16))
        elif mode != "RGB":
            im = im.convert(mode)
        kwargs = dict(spec.get("save", {}))
        if "orientation" in spec:
            exif = Image.Exif()
            exif[0x0112] = spec["orientation"]
            kwargs["exif"] = exif
        im.save(spec["path"], **kwargs)
    return {}


def geometry(job):
    """Applies torchvision functional ops to a PIL image (as VISSL does) and writes raw RGB."""
    out = []
    for case in job:
        im = Image.open(case["image"])
        if "draft" in case:  # a JPEG decoded at 1/draft size by libjpeg's scaled IDCT
            im.draft("RGB", (im.width // case["draft"], im.height // case["draft"]))
        im = im.convert("RGB")
        for op, *args in case["ops"]:
            if op == "resize":
                im = F.resize(im, args[0])
            elif op == "center_crop":
                im = F.center_crop(im, args[0])
            elif op == "resized_crop":
                top, left, h, w, size = args
                im = F.resized_crop(im, top, left, h, w, size)
            elif op == "hflip":
                im = F.hflip(im)
            elif op == "rotate":
                im = F.rotate(im, args[0])
        a = np.asarray(im)
        a.tofile(case["output"])
        out.append(list(a.shape))
    return out


def crop_params(job):
    """RandomResizedCrop.get_params with torch's draws replaced by the given uniforms."""
    results = []
    for case in job:
        draws = iter(case["draws"])

        class Uniform:
            def uniform_(self, a, b):
                return torch.tensor([a + next(draws) * (b - a)], dtype=torch.float32)

        def randint(low, high, size):
            return torch.tensor([low + int(np.floor(next(draws) * (high - low)))])

        real_empty, real_randint = torch.empty, torch.randint
        torch.empty, torch.randint = (lambda *a, **k: Uniform()), randint
        try:
            img = Image.new("RGB", (case["width"], case["height"]))
            results.append(list(T.RandomResizedCrop.get_params(img, case["scale"], case["ratio"])))
        finally:
            torch.empty, torch.randint = real_empty, real_randint
    return results


def photometric(job):
    """ToTensor, ColorJitter with given order and factors, grayscale flags, Normalize; float32 raw out."""
    x = torch.from_numpy(np.fromfile(job["input"], dtype=np.uint8).reshape(job["shape"])).permute(0, 3, 1, 2)
    x = x.float().div(255)
    outs = []
    for i in range(x.shape[0]):
        img = x[i]
        for k in job["order"][i]:
            f = job["factors"][i][k]
            if f is None:
                continue
            img = [F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue][k](img, f)
        if job["gray"][i]:
            img = F.rgb_to_grayscale(img, num_output_channels=3)
        outs.append(F.normalize(img, job["mean"], job["std"]))
    torch.stack(outs).numpy().astype(np.float32).tofile(job["output"])
    return {}


def sampler(job):
    ds = list(range(job["n"]))
    out = []
    for rank in range(job["world"]):
        s = torch.utils.data.DistributedSampler(ds, num_replicas=job["world"], rank=rank, shuffle=job["shuffle"], seed=job["seed"], drop_last=job["drop_last"])
        s.set_epoch(job["epoch"])
        out.append(list(s))
    return out


def image_folder(job):
    ds = torchvision.datasets.ImageFolder(job["root"], loader=lambda p: p)
    return {"classes": ds.classes, "samples": [[p, c] for p, c in ds.samples]}


def npy(job):
    for path, values, dtype in job:
        np.save(path, np.array(values, dtype=dtype))
    return {}


if __name__ == "__main__":
    command = globals()[sys.argv[1]]
    print(json.dumps(command(json.load(sys.stdin))))
