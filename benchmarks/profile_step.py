"""Where a training step's time goes: convolutions (with their GFLOP/s) and the other ops.

    python benchmarks/profile_step.py --threads 2                         # the cpu preset's size
    python benchmarks/profile_step.py --threads 1 --cbase 4096 --cmax 128 --top 10
    python benchmarks/profile_step.py --threads 2 --cbase 4096 --cmax 128 --map 8 --batch 16 --official PATH   # both codes
    python benchmarks/profile_step.py --threads 2 --z-dim 128 --pl-weight 0 --style-mixing 0 --bf16   # bfloat16 layers
    python benchmarks/profile_step.py --threads 2 --channels 3 --gamma 0.25 --pl-weight 0 --style-mixing 0 --pack 4   # packed D

Each phase (the official loop's Gmain, Dmain, Dreg, Greg) runs once untimed, then `--repeats`
times under a TorchDispatchMode that times every ATen op. Convolutions are counted with their
multiply-adds (2 FLOPs each; a backward pass counts its input and weight gradients), so their
GFLOP/s can be set against the device's matrix-multiply rate, measured here on 2048 x 2048
matrices. The phase's wall time comes from separate repeats without the mode; op times under
the mode run a little slower (the mode's Python code between ops evicts caches), so convolutions
plus other ops can add up to slightly more than the wall time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from collections.abc import Callable

import torch
from bench_train import (
    INTERVAL,
    add_network_arguments,
    check_at_least_one,
    check_network_arguments,
    check_pack,
    official,
    ours,
    random_batch,
    timed_phases,
)
from flops import CONV_OPS, conv_flops, matmul_flops_per_s
from torch.utils._python_dispatch import TorchDispatchMode

from stylegan2.utils.allocator import keep_freed_memory


def describe(name: str, args: tuple) -> str:
    """A readable key: op, activation shape, weight shape, stride."""
    if name == "aten.convolution.default":
        x, w, stride, transposed = args[0], args[1], args[3], args[6]
        kind = "conv_transpose" if transposed else "conv"
    else:
        x, w, stride, transposed = args[1], args[2], args[4], args[7]
        kind = "conv_transpose backward" if transposed else "conv backward"
    return f"{kind} x{list(x.shape)} w{list(w.shape)} stride {list(stride)}"


class OpTimer(TorchDispatchMode):
    """Accumulates wall time per op (and FLOPs per convolution) while active."""

    def __init__(self) -> None:
        super().__init__()
        self.conv: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])  # key -> [seconds, flops, calls]
        self.other: dict[str, float] = defaultdict(float)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: D105
        start = time.perf_counter()
        out = func(*args, **(kwargs or {}))
        elapsed = time.perf_counter() - start
        name = str(func)
        if name in CONV_OPS:
            entry = self.conv[describe(name, args)]
            entry[0] += elapsed
            entry[1] += conv_flops(name, args, out)
            entry[2] += 1
        else:
            self.other[name] += elapsed
        return out


def profile(name: str, run: Callable[[str, dict], None], batch: dict, args: argparse.Namespace) -> None:
    """Print one implementation's per-phase table, its per-minibatch totals and its slowest convolutions."""
    print(f"{name}:")
    print(f"{'phase':<7}{'wall ms':>9}{'conv ms':>9}{'GFLOP':>8}{'GFLOP/s':>9}{'other ops ms':>14}")
    slowest = {}
    amortized: dict[str, float] = defaultdict(float)
    for phase in timed_phases(args):
        run(phase, batch)
        walls = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            run(phase, batch)
            walls.append(time.perf_counter() - start)
        timer = OpTimer()
        with timer:
            for _ in range(args.repeats):
                run(phase, batch)
        wall = statistics.median(walls) * 1e3
        conv_s = sum(v[0] for v in timer.conv.values()) / args.repeats
        flops = sum(v[1] for v in timer.conv.values()) / args.repeats
        other_s = sum(timer.other.values()) / args.repeats
        print(f"{phase:<7}{wall:>9.1f}{conv_s * 1e3:>9.1f}{flops / 1e9:>8.2f}{flops / conv_s / 1e9:>9.0f}{other_s * 1e3:>14.1f}")
        for key, value in (("wall", wall), ("conv", conv_s * 1e3), ("other", other_s * 1e3), ("flops", flops)):
            amortized[key] += value / INTERVAL[phase]
        slowest[phase] = sorted(timer.conv.items(), key=lambda kv: -kv[1][0])[: args.top]
    phases = " + ".join(p if INTERVAL[p] == 1 else f"{p}/{INTERVAL[p]}" for p in timed_phases(args))
    print(f"per minibatch ({phases}): {amortized['wall']:.1f} ms wall, "
          f"convolutions {amortized['conv']:.1f} ms ({100 * amortized['conv'] / amortized['wall']:.0f}% of wall, "
          f"{amortized['flops'] / amortized['conv'] / 1e6:.0f} GFLOP/s on average), other ops {amortized['other']:.1f} ms")
    for phase, rows in slowest.items():
        print(f"{phase}: slowest convolutions")
        for key, (seconds, flops, calls) in rows:
            print(f"  {seconds / args.repeats * 1e3:7.2f} ms  {flops / seconds / 1e9:5.0f} GFLOP/s  "
                  f"x{calls // args.repeats}  {key}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_network_arguments(parser, cbase=2048, cmax=64, gamma=1.0)  # the cpu preset's size
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--top", type=int, default=5, help="list this many of the slowest convolutions per phase")
    parser.add_argument("--pl-weight", type=float, default=2.0, help="path-length weight (0: no Greg phase)")
    parser.add_argument("--style-mixing", type=float, default=0.9, help="style-mixing probability")
    parser.add_argument("--bf16", action="store_true", help="ours with bfloat16 layers in the top 4 resolutions "
                                                            "(stylegan2 train --precision bf16) instead of float32")
    parser.add_argument("--pack", type=int, default=1, help="ours with a D that judges this many images at once "
                                                               "(stylegan2 train --pack; the cpu preset with --clusters 0 packs 4)")
    parser.add_argument("--official", help="also profile NVIDIA's networks and loss from this stylegan2-ada-pytorch checkout "
                                           "(its reference ops, as on any CPU)")
    args = parser.parse_args()
    check_network_arguments(parser, args)
    check_at_least_one(parser, repeats=args.repeats, threads=args.threads, top=args.top)
    check_pack(parser, args)
    if args.official and args.pack > 1:
        parser.error("--official profiles NVIDIA's unpacked D; leave out --pack (or give --pack 1) with it")
    args.fp16, args.official_reference_ops = False, True
    if args.threads:
        torch.set_num_threads(args.threads)
    keep_freed_memory()  # as `stylegan2 train` does on CPU
    device = torch.device("cpu")
    torch.manual_seed(0)
    batch = random_batch(args, device)
    print(f"{torch.get_num_threads()} CPU threads, {args.resolution} px, batch {args.batch}, cbase {args.cbase}, "
          f"cmax {args.cmax}, pack {args.pack}, {args.map} mapping layers, style mixing {args.style_mixing:g}, "
          f"path length {args.pl_weight:g}; "
          f"float32 matmul {matmul_flops_per_s(device) / 1e9:.0f} GFLOP/s")
    name = "ours" + (", bf16" if args.bf16 else "") + (f", pack {args.pack}" if args.pack > 1 else "")
    profile(name, ours(args, device, pack=args.pack, bf16=args.bf16), batch, args)
    if args.official:
        profile("NVIDIA's", official(args, device), batch, args)


if __name__ == "__main__":
    main()
