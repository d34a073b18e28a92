"""PyTorch oracle for the test suite: evaluates Python expressions on tensors sent by the tests.

Protocol: one JSON request per line on stdin, one JSON reply per line on stdout.
Request: {"code": str, "inputs": {name: tensor}, "grad": [names], "gradOutput": tensor | null,
          "device": "cpu" | "cuda:0", "setup": str | null}
A tensor is {"dtype": "float32", "shape": [..], "data": base64 of its contiguous bytes}.
`code` is an expression over the inputs, `torch` and `F` (torch.nn.functional); `setup` is optional
Python run first (for multi-statement cases), sharing the namespace. With `grad`, those inputs
require grad and the (first) output is back-propagated with `gradOutput` (or summed).
Reply: {"outputs": [tensor | number | null], "grads": {name: tensor | null}} or {"error": str}.
"""
import base64
import json
import sys
import traceback

import torch
import torch.nn.functional as F

DTYPES = {
    "float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
    "bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32, "int16": torch.int16,
    "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}


def decode(spec, device):
    raw = bytearray(base64.b64decode(spec["data"]))
    dtype = DTYPES[spec["dtype"]]
    if len(raw) == 0:
        t = torch.empty(spec["shape"], dtype=dtype)
    else:
        t = torch.frombuffer(raw, dtype=dtype).reshape(spec["shape"]).clone()
    return t.to(device)


def encode(value):
    if value is None:
        return None
    if isinstance(value, (bool, int, float)):
        return float(value)
    t = value.detach().to("cpu").contiguous()
    data = t.view(torch.uint8) if t.dim() > 0 else t.reshape(1).view(torch.uint8)
    return {"dtype": NAMES[t.dtype], "shape": list(t.shape),
            "data": base64.b64encode(data.numpy().tobytes()).decode("ascii")}


def flatten(result):
    if isinstance(result, (tuple, list)):
        out = []
        for item in result:
            out.extend(flatten(item))
        return out
    return [result]


def handle(request):
    device = request.get("device", "cpu")
    torch.manual_seed(0)
    env = {"torch": torch, "F": F}
    for name, spec in request.get("inputs", {}).items():
        env[name] = decode(spec, device)
    for name in request.get("grad", []):
        env[name].requires_grad_(True)
    if request.get("setup"):
        exec(request["setup"], env)
    outputs = flatten(eval(request["code"], env))
    grads = {}
    if request.get("grad"):
        first = outputs[0]
        gout = request.get("gradOutput")
        if gout is not None:
            first.backward(decode(gout, device))
        else:
            first.sum().backward()
        grads = {name: encode(env[name].grad) for name in request["grad"]}
    return {"outputs": [encode(o) for o in outputs], "grads": grads}


def main():
    torch.set_num_threads(1)  # ORACLE_THREADS in oracle.ts
    for line in sys.stdin:
        try:
            reply = handle(json.loads(line))
        except Exception as error:  # reported to the test, which fails with this message
            reply = {"error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
