"""Where a training step's time goes on a GPU: busy fraction, kernel launches and the costliest kernels.

    python benchmarks/profile_gpu.py --net paper256 --resolution 256 --channels 3 --batch 32

Each phase of ours (bench_train.py's networks and loss) runs once to warm up, then `--repeats`
times under torch.profiler. For each phase it prints the wall time, the time the GPU spent in
kernels and copies (their sum over the wall time is the busy fraction: far below 100% means the
step waits on Python and kernel launches, which CUDA graphs or torch.compile would remove) and
the number of kernels launched; then the kernels that took the most time over all phases. On CPU
(a check of this script) the same tables list ATen ops by their own CPU time.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import torch
from bench_train import check_at_least_one, ours, parse_args, random_batch, sync, timed_phases
from torch.profiler import ProfilerActivity, profile

from stylegan2.utils.device import configure_backends


def op_times(prof: profile, device: torch.device) -> list[tuple[str, float]]:
    """(name, microseconds) of every kernel and copy on a GPU, of every op's own time on CPU."""
    if device.type == "cuda":
        return [(e.name, e.time_range.elapsed_us()) for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    return [(e.name, e.self_cpu_time_total) for e in prof.events()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top", type=int, default=20, help="how many kernels to list")
    args = parse_args(parser)
    check_at_least_one(parser, top=args.top)
    device = torch.device(args.device)
    configure_backends(device)
    torch.manual_seed(0)
    run = ours(args, device)
    batch = random_batch(args, device)
    activities = [ProfilerActivity.CUDA] if device.type == "cuda" else [ProfilerActivity.CPU]
    unit = "kernels" if device.type == "cuda" else "ops"
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    print(f"ours on {device}, {args.resolution} px, batch {args.batch}, --net {args.net}, fp16 {args.fp16}; "
          f"{args.repeats} profiled runs per phase")
    print(f"{'phase':<8}{'wall ms':>10}{'kernel ms':>11}{'busy':>7}{'launches':>10}")
    for phase in timed_phases(args):
        run(phase, batch)  # warm-up: allocator, cuDNN autotuning
        sync(device)
        with profile(activities=activities) as prof:
            start = time.perf_counter()
            for _ in range(args.repeats):
                run(phase, batch)
            sync(device)
            wall = (time.perf_counter() - start) / args.repeats
        ops = op_times(prof, device)
        if not ops:
            print(f"{phase:<8}the profiler recorded no {unit} (CUPTI unavailable?)")
            continue
        busy = sum(us for _, us in ops) / 1e6 / args.repeats
        for name, us in ops:
            totals[name][0] += us / args.repeats
            totals[name][1] += 1
        print(f"{phase:<8}{wall * 1e3:>10.1f}{busy * 1e3:>11.1f}{100 * busy / wall:>6.0f}%{len(ops) // args.repeats:>10}")
    print(f"costliest {args.top} {unit}, summed over one run of each phase:")
    print(f"{'ms':>8}{'calls':>8}  name")
    for name, (us, calls) in sorted(totals.items(), key=lambda kv: -kv[1][0])[: args.top]:
        print(f"{us / 1e3:>8.2f}{calls // args.repeats:>8}  {name[:110]}")


if __name__ == "__main__":
    main()
