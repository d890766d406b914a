"""Where a training step's time goes on a GPU: busy fraction, kernel launches and the costliest kernels.

    python benchmarks/profile_gpu.py --net paper256 --resolution 256 --channels 3 --batch 32

Each phase of ours (bench_train.py's networks and loss) runs once to warm up, then `--repeats`
times under torch.profiler. For each phase it prints the wall time, the time the GPU spent in
kernels and copies (their sum over the wall time is the busy fraction: far below 100% means the
step waits on Python and kernel launches, which CUDA graphs or torch.compile would remove) and
the number of kernels launched; then the kernels that took the most time over all phases, and
the ops that launched them with their inputs (dtype, shape, `cl` where channels_last, and the
scalar arguments such as a convolution's stride, padding and groups): which convolutions ran on
which kernels. On CPU (a check of this script) the same tables list ATen ops by their own CPU time.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import torch
from bench_train import check_at_least_one, ours, parse_args, random_batch, sync, timed_phases
from torch.autograd.profiler_util import FunctionEvent
from torch.profiler import ProfilerActivity, profile

from stylegan2.utils.device import configure_backends


def op_times(prof: profile, device: torch.device) -> list[tuple[str, float]]:
    """(name, microseconds) of every kernel and copy on a GPU, of every op's own time on CPU."""
    if device.type == "cuda":
        return [(e.name, e.time_range.elapsed_us()) for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    return [(e.name, e.self_cpu_time_total) for e in prof.events()]


def describe_inputs(event: FunctionEvent) -> str:
    """An op's inputs as `Half[32, 64, 256, 256] cl, float[64, 64, 3, 3], [1, 1], 1`: tensors, then scalars."""
    strides = event.structured_input_strides or [[]] * len(event.input_shapes)
    parts = []
    for shape, dtype, stride, value in zip(event.input_shapes, event.input_dtypes, strides, event.concrete_inputs):
        if shape:
            layout = " cl" if len(shape) == 4 and shape[1] > 1 and stride and stride[1] == 1 else ""
            parts.append(f"{dtype.removeprefix('c10::')}{shape}{layout}")
        elif value is not None and value != "":
            parts.append(str(value))
    return ", ".join(parts)


def launching_ops(prof: profile, device: torch.device) -> list[tuple[str, str, float, str]]:
    """(op, its inputs, microseconds, its costliest kernel) of every op that launched GPU work, of every op on CPU.

    On a GPU an op's time is that of the kernels it launched itself (cuDNN's for aten::cudnn_convolution,
    say); on CPU it is the op's own CPU time and the kernel column is empty.
    """
    rows = []
    for event in prof.events():
        if event.device_type != torch.autograd.DeviceType.CPU:
            continue
        if device.type != "cuda":
            rows.append((event.name, describe_inputs(event), event.self_cpu_time_total, ""))
        elif event.kernels:
            costliest = max(event.kernels, key=lambda kernel: kernel.duration)
            rows.append((event.name, describe_inputs(event), sum(k.duration for k in event.kernels), costliest.name))
    return rows


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
    cuda = [ProfilerActivity.CUDA] if device.type == "cuda" else []
    activities = cuda or [ProfilerActivity.CPU]
    unit = "kernels" if device.type == "cuda" else "ops"
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    by_op: dict[tuple[str, str], list] = defaultdict(lambda: [0.0, 0, defaultdict(float)])
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
        # Once more with the CPU side and input shapes recorded (slower, so apart from the timed runs above).
        with profile(activities=[ProfilerActivity.CPU, *cuda], record_shapes=True) as prof:
            run(phase, batch)
            sync(device)
        for name, inputs, us, kernel in launching_ops(prof, device):
            entry = by_op[name, inputs]
            entry[0] += us
            entry[1] += 1
            entry[2][kernel] += us
    print(f"costliest {args.top} {unit}, summed over one run of each phase:")
    print(f"{'ms':>8}{'calls':>8}  name")
    for name, (us, calls) in sorted(totals.items(), key=lambda kv: -kv[1][0])[: args.top]:
        print(f"{us / 1e3:>8.2f}{calls // args.repeats:>8}  {name[:110]}")
    measure = "the time of the kernels they launched" if device.type == "cuda" else "their own time"
    print(f"costliest {args.top} ops by {measure}, with their inputs, one run of each phase:")
    print(f"{'ms':>8}{'calls':>8}  op (inputs){'  <- costliest kernel' if device.type == 'cuda' else ''}")
    for (name, inputs), (us, calls, kernels) in sorted(by_op.items(), key=lambda kv: -kv[1][0])[: args.top]:
        kernel = max(kernels, key=kernels.get)
        print(f"{us / 1e3:>8.2f}{calls:>8}  {name} ({inputs}){f'  <- {kernel[:90]}' if kernel else ''}")


if __name__ == "__main__":
    main()
