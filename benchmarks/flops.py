"""FLOPs of a run of PyTorch ops, counted per ATen op, and a device's matrix-multiply rate.

A multiply-add counts 2 FLOPs; a convolution's backward counts the input and weight gradients it
computes. Depthwise convolutions (one input channel per group: the FIR filters of resampling) are
kept apart from the dense work (other convolutions and matrix products), which is what a GPU's
tensor cores run and what its peak rate is quoted for.
"""

from __future__ import annotations

import sys
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode

CONV_OPS = ("aten.convolution.default", "aten.convolution_backward.default")
MATMUL_OPS = ("aten.mm.default", "aten.addmm.default", "aten.bmm.default")


def conv_flops(name: str, args: tuple, out: torch.Tensor | tuple) -> int:
    """Multiply-adds x 2 of a convolution or of its backward (input and weight gradients as asked)."""
    if name == "aten.convolution.default":
        x, w, transposed = args[0], args[1], args[6]
        pixels = x.numel() if transposed else out.numel()  # per input pixel for transposed convs
        return 2 * pixels * w.shape[1] * w.shape[2] * w.shape[3]
    grad, x, w, transposed, mask = args[0], args[1], args[2], args[7], args[10]
    pixels = x.numel() if transposed else grad.numel()
    return 2 * pixels * w.shape[1] * w.shape[2] * w.shape[3] * (int(mask[0]) + int(mask[1]))


def is_depthwise(name: str, args: tuple) -> bool:
    """Whether a convolution (or its backward) filters each channel on its own (groups == input channels > 1)."""
    x, groups = (args[0], args[8]) if name == "aten.convolution.default" else (args[1], args[9])
    return groups > 1 and groups == x.shape[1]


def matmul_flops(name: str, args: tuple) -> int:
    """Multiply-adds x 2 of mm(a, b), addmm(bias, a, b) or bmm(a, b)."""
    a, b = args[1:3] if name == "aten.addmm.default" else args[:2]
    return 2 * a.numel() * b.shape[-1]  # a: [(batch,) rows, inner], b: [(batch,) inner, cols]


class FlopCounter(TorchDispatchMode):
    """Adds up dense and depthwise FLOPs of every op run while active (untimed: it slows the ops)."""

    def __init__(self) -> None:
        super().__init__()
        self.dense = 0
        self.depthwise = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: D105
        out = func(*args, **(kwargs or {}))
        name = str(func)
        if name in CONV_OPS:
            flops = conv_flops(name, args, out)
            if is_depthwise(name, args):
                self.depthwise += flops
            else:
                self.dense += flops
        elif name in MATMUL_OPS:
            self.dense += matmul_flops(name, args)
        return out


def matmul_flops_per_s(device: torch.device, dtype: torch.dtype = torch.float32, size: int = 2048, repeats: int = 5) -> float:
    """The device's matrix-multiply rate (FLOP/s) on size x size random matrices: what dense work can reach."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start)


if __name__ == "__main__":
    sys.exit(f"{__doc__.splitlines()[0]}\nbenchmarks/flops.py is a module that bench_train.py and profile_step.py import; "
             "run those.")
