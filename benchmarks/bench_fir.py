"""How fast the networks' resampling convolutions are with the 4x4 filter as a pass of its own or folded into the weights.

    python benchmarks/bench_fir.py --net paper256 --resolution 256 --batch 32 --device cuda

The GPU profile of a training step (docs/experiments/speed.md) found PyTorch's generic depthwise
convolution, which runs our FIR filters, the costliest kernel. This times forward + backward of
each resampling 3x3 convolution of one training network, at its shapes, written three ways that
compute the same thing (`stylegan2.nn.conv2d_resample`):

- `pass`: the filter as one depthwise convolution, then the strided (D: down-sampling) or transposed
  (G: up-sampling) 3x3 convolution;
- `NHWC`: `pass` on channels_last activations;
- `folded`: one 6x6 strided or transposed convolution whose weights are the 3x3 ones convolved with
  the filter (no depthwise pass; 4x the dense FLOPs of the 3x3 one). What fp16 layers do by default.

Activations are fp16 where the network has fp16 layers on CUDA (its 4 highest resolutions), else fp32.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch
from bench_train import NETS, check_at_least_one, check_device, check_resolution, sync

from stylegan2.models.synthesis import channel_counts
from stylegan2.nn.conv2d_resample import conv2d_resample
from stylegan2.nn.upfirdn2d import setup_filter
from stylegan2.utils.device import configure_backends

VARIANTS = ("pass", "NHWC", "folded")


def variants(x: torch.Tensor, w: torch.Tensor, up: int, down: int) -> dict[str, Callable[[], torch.Tensor]]:
    """The three ways to resample x and convolve it with w (padding 1, as the networks' resampling layers)."""
    f = setup_filter([1, 3, 3, 1]).to(x.device)
    x_nhwc = x.detach().contiguous(memory_format=torch.channels_last).requires_grad_(True)
    w_nhwc = w.contiguous(memory_format=torch.channels_last)
    return dict(zip(VARIANTS, (
        lambda: conv2d_resample(x, w, f, up=up, down=down, padding=1, fold=False),
        lambda: conv2d_resample(x_nhwc, w_nhwc, f, up=up, down=down, padding=1, fold=False),
        lambda: conv2d_resample(x, w, f, up=up, down=down, padding=1, fold=True),
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
    check_resolution(parser, "--resolution", args.resolution, least=8)  # it times the resampling layers from 8 px up
    check_at_least_one(parser, batch=args.batch, repeats=args.repeats, cbase=args.cbase)
    check_device(parser, args.device)
    device = torch.device(args.device)
    configure_backends(device)
    net = NETS[args.net]
    resolutions = [2**i for i in range(args.resolution.bit_length() - 1, 2, -1)]  # resolution down to 8
    channels = channel_counts(resolutions + [4], args.cbase or net["cbase"], net["cmax"])
    print(f"{args.net} resampling 3x3 convolutions at {args.resolution} px, batch {args.batch}, {device}; "
          f"forward + backward, median of {args.repeats}, ms")
    for name, up, down in (("D down-sampling", 1, 2), ("G up-sampling", 2, 1)):
        print(f"{name} (res: the larger side)\n{'res':>5}{'ch':>6}{'dtype':>9}" + "".join(f"{n:>9}" for n in VARIANTS)
              + "   max |diff| vs pass")
        totals = dict.fromkeys(VARIANTS, 0.0)
        for i, res in enumerate(resolutions):
            fp16 = device.type == "cuda" and i < 4
            dtype = torch.float16 if fp16 else torch.float32
            c_in, c_out, size = (channels[res], channels[res // 2], res) if down > 1 else (channels[res // 2], channels[res], res // 2)
            x = torch.randn(args.batch, c_in, size, size, device=device, dtype=dtype, requires_grad=True)
            w = torch.randn(c_out, c_in, 3, 3, device=device, dtype=dtype) / (3 * c_in**0.5)
            fns = variants(x, w, up, down)
            with torch.no_grad():
                reference = fns["pass"]().float()
                diffs = [float((fns[n]().float() - reference).abs().max()) for n in VARIANTS[1:]]
            ms = {n: time_ms(fn, device, args.repeats) for n, fn in fns.items()}
            for n in VARIANTS:
                totals[n] += ms[n]
            print(f"{res:>5}{c_in:>6}{str(dtype).removeprefix('torch.'):>9}" + "".join(f"{ms[n]:>9.3f}" for n in VARIANTS)
                  + "   " + " ".join(f"{d:.1e}" for d in diffs))
        print(f"{'all':>20}" + "".join(f"{totals[n]:>9.3f}" for n in VARIANTS))


if __name__ == "__main__":
    main()
