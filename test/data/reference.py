"""torchvision's answers for the data tests. Run as: /usr/bin/python3 reference.py <command> < job.json
Prints a JSON answer; image outputs are written as raw bytes next to the paths the job names."""
import gzip
import json
import os
import pickle
import struct
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


class _Python2Pickler(pickle._Pickler):
    """Pickles str and bytes as Python 2's str (SHORT_BINSTRING / BINSTRING), as the CIFAR files were written."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_python2_str(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else bytes(obj)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_python2_str
    dispatch[bytes] = save_python2_str


def _write_pickle(path, value, python2):
    with open(path, "wb") as f:
        if python2:
            _Python2Pickler(f, protocol=2).dump(value)
        else:
            pickle.dump(value, f, protocol=2)


def torchvision_files(jobs):
    """Small files in the layouts torchvision's datasets read, with random pixels and labels."""
    for job in jobs:
        _torchvision_files(job)
    return {}


def _torchvision_files(job):
    rng = np.random.default_rng(job.get("seed", 0))
    root, name = job["root"], job["name"]
    counts = {"train": job["train"], "test": job["test"]}
    os.makedirs(root, exist_ok=True)
    if name in ("CIFAR10", "CIFAR100"):
        folder = os.path.join(root, "cifar-10-batches-py" if name == "CIFAR10" else "cifar-100-python")
        os.makedirs(folder, exist_ok=True)
        files = {"train": ["data_batch_%d" % i for i in range(1, 6)], "test": ["test_batch"]} if name == "CIFAR10" else {"train": ["train"], "test": ["test"]}
        classes = 10 if name == "CIFAR10" else 100
        for split, names in files.items():
            for f in names:
                n = counts[split]
                entry = {"batch_label": f, "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), "filenames": ["img_%d.png" % i for i in range(n)]}
                labels = [int(v) for v in rng.integers(0, classes, n)]
                if name == "CIFAR10":
                    entry["labels"] = labels
                else:
                    entry["fine_labels"] = labels
                    entry["coarse_labels"] = [v // 5 for v in labels]
                _write_pickle(os.path.join(folder, f), entry, job.get("python2", True))
        meta = {"label_names": ["c%d" % i for i in range(10)], "num_cases_per_batch": counts["train"], "num_vis": 3072} if name == "CIFAR10" else {"fine_label_names": ["f%d" % i for i in range(100)], "coarse_label_names": ["c%d" % i for i in range(20)]}
        _write_pickle(os.path.join(folder, "batches.meta" if name == "CIFAR10" else "meta"), meta, job.get("python2", True))
    elif name == "MNIST":
        folder = os.path.join(root, "MNIST", "raw")
        os.makedirs(folder, exist_ok=True)
        for split, prefix in (("train", "train"), ("test", "t10k")):
            n = counts[split]
            images = struct.pack(">IIII", 0x0803, n, 28, 28) + rng.integers(0, 256, (n, 28, 28), dtype=np.uint8).tobytes()
            labels = struct.pack(">II", 0x0801, n) + rng.integers(0, 10, n, dtype=np.uint8).tobytes()
            for suffix, data in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)):
                path = os.path.join(folder, "%s-%s" % (prefix, suffix))
                if job.get("gzip"):
                    with gzip.open(path + ".gz", "wb") as f:
                        f.write(data)
                else:
                    with open(path, "wb") as f:
                        f.write(data)
    elif name == "STL10":
        folder = os.path.join(root, "stl10_binary")
        os.makedirs(folder, exist_ok=True)
        for split in ("train", "test"):
            n = counts[split]
            rng.integers(0, 256, n * 3 * 96 * 96, dtype=np.uint8).tofile(os.path.join(folder, "%s_X.bin" % split))
            labels = rng.integers(1, 11, n, dtype=np.uint8)
            labels[0] = 0  # torchvision's uint8 arithmetic makes this 255
            labels.tofile(os.path.join(folder, "%s_y.bin" % split))
        open(os.path.join(folder, "unlabeled_X.bin"), "wb").close()
    elif name == "SVHN":
        import scipy.io

        for split in ("train", "test"):
            n = counts[split]
            x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
            y = rng.integers(1, 11, (n, 1)).astype(job.get("ydtype", "uint8"))
            y[0] = 10
            scipy.io.savemat(os.path.join(root, "%s_32x32.mat" % split), {"X": x, "y": y}, do_compression=job.get("compress", False))


def _torchvision_dataset(name, root, train):
    """VISSL's TorchvisionDataset, with torchvision's MD5 checks reduced to the files existing (the files are fakes)."""
    import torchvision.datasets.cifar as cifar
    import torchvision.datasets.stl10 as stl10
    import torchvision.datasets.svhn as svhn

    exists = lambda path, md5=None: os.path.isfile(path)
    cifar.check_integrity = stl10.check_integrity = svhn.check_integrity = exists
    D = torchvision.datasets
    if name in ("CIFAR10", "CIFAR100", "MNIST"):
        return getattr(D, name)(root, train=train)
    return getattr(D, name)(root, split="train" if train else "test")


def torchvision_load(jobs):
    """Per job, every image as RGB (HWC bytes to job['out']), PIL's mode and the label, as VISSL gets them."""
    answers = []
    for job in jobs:
        ds = _torchvision_dataset(job["name"], job["root"], job["train"])
        images, labels, modes = [], [], set()
        for i in range(len(ds)):
            img, label = ds[i]
            modes.add(img.mode)
            images.append(np.asarray(img.convert("RGB")))
            labels.append(int(label))
        np.stack(images).tofile(job["out"])
        answers.append({"labels": labels, "modes": sorted(modes)})
    return answers


def torchvision_pipeline(job):
    """VISSL's MNISTImgPil2RGB (PIL's new + paste, as VISSL writes it) then torchvision's Resize, per image."""
    ds = _torchvision_dataset(job["name"], job["root"], job["train"])
    out = []
    for i in job["indices"]:
        img = ds[i][0]
        if job["size"]:
            canvas = Image.new(mode="RGB", size=job["size"])
            canvas.paste(img, box=job["box"])
        else:
            canvas = Image.new(mode="RGB", size=img.size)
            canvas.paste(img)
        out.append(np.asarray(T.Resize(job["resize"])(canvas)))
    np.stack(out).tofile(job["out"])
    return {}


def lab(job):
    """VISSL's ImgPil2LabTensor, step by step as vissl/data/ssl_transforms/img_pil_to_lab_tensor.py:
    RGB HWC uint8 -> BGR -> OpenCV's 8-bit COLOR_BGR2LAB -> float32 L * 100 / 255 - 50, a - 128,
    b - 128, CHW. Reads raw RGB (HWC) and writes raw float32 CHW."""
    import cv2

    for case in job:
        h, w = case["height"], case["width"]
        rgb = np.fromfile(case["input"], dtype=np.uint8).reshape(h, w, 3)
        img_lab = cv2.cvtColor(rgb[:, :, ::-1].astype(np.uint8), cv2.COLOR_BGR2LAB).astype(np.float32)
        img_lab[:, :, 0] = (img_lab[:, :, 0] * (100.0 / 255.0)) - 50.0
        img_lab[:, :, 1:] = img_lab[:, :, 1:] - 128.0
        np.ascontiguousarray(np.transpose(img_lab, (2, 0, 1))).tofile(case["output"])
    return {}


if __name__ == "__main__":
    command = globals()[sys.argv[1]]
    print(json.dumps(command(json.load(sys.stdin))))
