"""PyTorch's own GradScaler, run on CPU tensors for the GradScaler test.

libtorch 1.13 has CUDA kernels only for the two AMP operators, so they are replaced here by Python
that does what AmpKernels.cu does, element for element (2.x has CPU kernels too, but the same
replacement keeps one oracle for both); everything else (scale bookkeeping, skipped steps, update
rules, state_dict) is PyTorch's own CUDA GradScaler code: torch.cuda.amp's in 1.13, torch.amp's
(with device "cuda") in 2.x, where torch.cuda.amp.GradScaler is a deprecated alias of it.

Command `sequence` (`sequences`: a list of them), input {"init_scale", "growth_factor", "backoff_factor", "growth_interval",
"steps": ["finite" | "inf" | "nan", ...], "grad": [floats], "lr": float, "save_after": int}:
a model of one parameter vector is stepped by SGD with the scaled gradient `grad * scale` (with an
inf or NaN put in its first element on non-finite steps). After `save_after` steps the scaler's
state_dict is taken and a fresh scaler loaded from it continues. Output: per step the scale after
update(), whether the optimizer stepped, and the growth tracker; the saved state dict; the final
parameter.
"""
import json
import sys

import torch

try:  # PyTorch >= 2.3: the scaler and its replicator moved to torch.amp.grad_scaler
    import torch.amp.grad_scaler as grad_scaler

    def cuda_scaler(**options):  # the device-generic scaler, without the old alias's deprecation warning
        return grad_scaler.GradScaler("cuda", **options)
except ImportError:  # 1.13 .. 2.2
    import torch.cuda.amp.grad_scaler as grad_scaler

    def cuda_scaler(**options):
        return grad_scaler.GradScaler(**options)


class CpuReplicator(grad_scaler._MultiDeviceReplicator):
    """The scaler's per-device cache of a tensor, less its assertion that the tensor is on CUDA."""

    def __init__(self, master_tensor):
        self.master = master_tensor
        self._per_device_tensors = {}


def unscale_(grads, found_inf, inv_scale):
    for g in grads:
        if not torch.isfinite(g).all():
            found_inf.fill_(1.0)
        g.mul_(inv_scale)


def update_scale_(scale, growth_tracker, found_inf, growth_factor, backoff_factor, growth_interval):
    if found_inf.item():
        scale.fill_(float(torch.tensor(scale.item() * backoff_factor, dtype=torch.float32)))
        growth_tracker.fill_(0)
    else:
        successful = growth_tracker.item() + 1
        if successful == growth_interval:
            new_scale = torch.tensor(scale.item() * growth_factor, dtype=torch.float32)
            if torch.isfinite(new_scale):
                scale.fill_(new_scale.item())
            growth_tracker.fill_(0)
        else:
            growth_tracker.fill_(successful)
    return scale


def make_scaler(job):
    torch.cuda.is_available = lambda: True  # the scaler only checks; every tensor stays on the CPU
    torch._amp_foreach_non_finite_check_and_unscale_ = unscale_
    torch._amp_update_scale_ = update_scale_
    grad_scaler._MultiDeviceReplicator = CpuReplicator
    return cuda_scaler(
        init_scale=job["init_scale"], growth_factor=job["growth_factor"],
        backoff_factor=job["backoff_factor"], growth_interval=job["growth_interval"])


def sequence(job):
    param = torch.nn.Parameter(torch.zeros(len(job["grad"])))
    optimizer = torch.optim.SGD([param], lr=job["lr"])
    scaler = make_scaler(job)
    out = {"scales": [], "stepped": [], "trackers": [], "saved": None}
    for i, kind in enumerate(job["steps"]):
        if i == job["save_after"]:
            out["saved"] = scaler.state_dict()
            fresh = make_scaler({**job, "init_scale": 1.0, "growth_interval": 1})
            fresh.load_state_dict(out["saved"])
            scaler = fresh
        if scaler._scale is None:  # what scale() does first, less its assertion that tensors are on CUDA
            scaler._lazy_init_scale_growth_tracker(torch.device("cpu"))
        grad = torch.tensor(job["grad"], dtype=torch.float32) * scaler._scale
        if kind == "inf":
            grad[0] = float("inf")
        elif kind == "nan":
            grad[0] = float("nan")
        param.grad = grad
        before = param.detach().clone()
        scaler.step(optimizer)
        scaler.update()
        out["stepped"].append(not torch.equal(before, param.detach()))
        out["scales"].append(scaler.get_scale())
        out["trackers"].append(scaler.state_dict()["_growth_tracker"])
    out["param"] = param.detach().tolist()
    return out


if __name__ == "__main__":
    commands = {"sequence": sequence, "sequences": lambda jobs: [sequence(job) for job in jobs]}
    print(json.dumps(commands[sys.argv[1]](json.load(sys.stdin))))
