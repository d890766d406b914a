"""How fast each way of running the networks' 4x4 resampling filter is, at the shapes of one training network.

    python benchmarks/bench_fir.py --net paper256 --resolution 256 --batch 32 --device cuda

The GPU profile of a training step (docs/experiments/speed.md) found PyTorch's generic depthwise
convolution, which runs our FIR filters, the costliest kernel. For each down-sampling layer of D
(filter, then a 3x3 convolution with stride 2: the costlier direction, as D sees reals and fakes)
this times forward + backward of the filter and the convolution, written four ways that compute
the same thing:

- `2-D`: the 4x4 filter as one depthwise convolution, then the strided 3x3 convolution (ours now);
- `1-D`: the filter as two depthwise passes of 4 taps;
- `NHWC`: `2-D` on channels_last activations;
- `folded`: one strided 6x6 convolution whose weights are the 3x3 ones convolved with the filter
  (no depthwise pass; 4x the dense FLOPs of the 3x3 one).

Activations are fp16 where the network has fp16 layers on CUDA (its 4 highest resolutions), else fp32.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F
from bench_train import NETS, sync

from stylegan2.models.synthesis import channel_counts
from stylegan2.nn.upfirdn2d import setup_filter, upfirdn2d
from stylegan2.utils.device import configure_backends

VARIANTS = ("2-D", "1-D", "NHWC", "folded")


def variants(x: torch.Tensor, w: torch.Tensor) -> dict[str, Callable[[], torch.Tensor]]:
    """The four ways to filter x and convolve it with w at stride 2 (padding as D's down-sampling conv)."""
    f2, f1 = setup_filter([1, 3, 3, 1]).to(x.device), setup_filter([1, 3, 3, 1], separable=True).to(x.device)
    folded = F.conv2d(F.pad(w.float(), [3, 3, 3, 3]).flatten(0, 1)[:, None], f2.flip(0, 1)[None, None]).view(*w.shape[:2], 6, 6)
    folded = folded.to(w.dtype)
    x_nhwc = x.detach().contiguous(memory_format=torch.channels_last).requires_grad_(True)
    return dict(zip(VARIANTS, (
        lambda: F.conv2d(upfirdn2d(x, f2, padding=2), w, stride=2),
        lambda: F.conv2d(upfirdn2d(x, f1, padding=2), w, stride=2),
        lambda: F.conv2d(upfirdn2d(x_nhwc, f2, padding=2), w.contiguous(memory_format=torch.channels_last), stride=2),
        lambda: F.conv2d(x, folded, stride=2, padding=2),
    )))


def time_ms(fn: Callable[[], torch.Tensor], device: torch.device, repeats: int) -> float:
    """Median milliseconds of forward + backward (gradient of the input)."""
    times = []
    for i in range(repeats + 2):  # two warm-up rounds: allocator and cuDNN autotuning
        sync(device)
        start = time.perf_counter()
        y = fn()
        y.backward(torch.ones_like(y))
        sync(device)
        if i >= 2:
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--net", choices=sorted(NETS), default="paper256")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--cbase", type=int, help="override the net's channel base (a small CPU check)")
    args = parser.parse_args()
    device = torch.device(args.device)
    configure_backends(device)
    net = NETS[args.net]
    resolutions = [2**i for i in range(args.resolution.bit_length() - 1, 2, -1)]  # D's blocks: resolution down to 8
    channels = channel_counts(resolutions + [4], args.cbase or net["cbase"], net["cmax"])
    print(f"{args.net} D down-sampling layers at {args.resolution} px, batch {args.batch}, {device}; "
          f"forward + backward, median of {args.repeats}, ms")
    print(f"{'res':>5}{'ch':>6}{'dtype':>9}" + "".join(f"{n:>9}" for n in VARIANTS) + "   max |diff| vs 2-D")
    totals = dict.fromkeys(VARIANTS, 0.0)
    for i, res in enumerate(resolutions):
        fp16 = device.type == "cuda" and i < 4
        dtype = torch.float16 if fp16 else torch.float32
        x = torch.randn(args.batch, channels[res], res, res, device=device, dtype=dtype, requires_grad=True)
        w = torch.randn(channels[res // 2], channels[res], 3, 3, device=device, dtype=dtype) / (3 * channels[res] ** 0.5)
        fns = variants(x, w)
        with torch.no_grad():
            reference = fns["2-D"]().float()
            diffs = [float((fns[n]().float() - reference).abs().max()) for n in VARIANTS[1:]]
        ms = {n: time_ms(fn, device, args.repeats) for n, fn in fns.items()}
        for n in VARIANTS:
            totals[n] += ms[n]
        print(f"{res:>5}{channels[res]:>6}{str(dtype).removeprefix('torch.'):>9}" + "".join(f"{ms[n]:>9.3f}" for n in VARIANTS)
              + "   " + " ".join(f"{d:.1e}" for d in diffs))
    print(f"{'all':>20}" + "".join(f"{totals[n]:>9.3f}" for n in VARIANTS))


if __name__ == "__main__":
    main()
