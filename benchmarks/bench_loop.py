"""Milliseconds per minibatch of the whole training loop (data, phases, Adam, the non-finite check,
G_ema), for this checkout and other source trees, interleaved so that their ratio means something
on a noisy machine.

    python benchmarks/bench_loop.py                                        # the cpu preset on builtin:shapes
    git archive REV src | tar -x -C /tmp/rev                               # an older tree to compare with
    python benchmarks/bench_loop.py --src /tmp/rev/src --cbase 1024 --cmax 32 --batch 16

Each measurement is a child process that imports the package from one tree and trains with
`stylegan2.training.loop.train` in ticks of --steps minibatches: first --warmup minibatches (by
default one pass over the dataset, so that what a run keeps from its first epoch is in place),
then one timed tick, read from the run's own sec/kimg. Then, warm, the parts around the networks'
passes alone: reading a minibatch of images, and G's and D's optimizer step as the loop takes it.
bench_train.py times the phases themselves.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the package is imported in the children, from the tree each one times
    import torch

    from stylegan2.data import ImageDataset
    from stylegan2.training.config import TrainingOptions

THIS_TREE = str(Path(__file__).resolve().parent.parent / "src")


def child(args: argparse.Namespace) -> None:
    """Time the loop in this process; print the milliseconds per minibatch of its last tick as JSON."""
    import torch

    from stylegan2.data import open_dataset
    from stylegan2.training.config import resolve_options
    from stylegan2.training.loop import train

    torch.set_num_threads(args.threads)
    dataset = open_dataset(args.data, resolution=args.resolution, use_labels=False, seed=args.seed)
    warmup = args.warmup if args.warmup is not None else math.ceil(dataset.distinct_len / args.batch)
    ticks = math.ceil(warmup / args.steps) + 1  # the last one is timed
    # batch_gpu given, not derived: trees that derive it differently (before and after it followed NVIDIA's rule for
    # --batch) must time the same passes.
    overrides = dict(seed=args.seed, batch=args.batch, batch_gpu=args.batch_gpu or args.batch, cbase=args.cbase,
                     cmax=args.cmax, precision=args.precision, tick=args.steps * args.batch / 1000, snap=ticks + 1)
    overrides = {name: value for name, value in overrides.items() if value is not None}  # None: the preset's
    with tempfile.TemporaryDirectory() as outdir:
        options = resolve_options(args.data, args.cfg, dataset.resolution, 1, {**overrides, "outdir": outdir},
                                  device_type=torch.device(args.device).type,  # data-loader workers as a run there
                                  num_images=dataset.distinct_len)
        run = train(options, device=args.device, max_steps=ticks * args.steps, log=lambda line: None, dataset=dataset)
        last = json.loads((run / "stats.jsonl").read_text().splitlines()[-1])
    times = {"minibatch": last["Timing/sec_per_kimg"]["mean"] * args.batch,
             **time_parts(options, dataset, args.batch, torch.device(args.device))}
    print(json.dumps({"ms": times, "package": __import__("stylegan2").__file__}))


def time_parts(options: TrainingOptions, dataset: ImageDataset, batch: int, device: torch.device,
               repeats: int = 200) -> dict[str, float]:
    """Milliseconds of the loop's parts outside the networks' passes, each alone and warm: reading one
    minibatch of images, and each network's optimizer step as the loop takes it (the non-finite check,
    then Adam) on fixed random gradients; on CUDA also a fused Adam's step alone."""
    import torch

    from stylegan2.training.phase import run_phase

    try:  # trees since the loop's network building and phases have their own modules; older ones keep them in loop.py
        from stylegan2.training.networks import build_networks
        from stylegan2.training.phase import make_phases
    except ImportError:
        from stylegan2.training.loop import _make_phases as make_phases
        from stylegan2.training.loop import build_networks

    try:  # trees since the non-finite verdict is read a step late hand it to a FiniteWatch; older ones read it at once
        from stylegan2.training.finite import FiniteWatch
    except ImportError:
        FiniteWatch = None

    def wait() -> None:  # the GPU's queue drained, so that the clock times the work, not its launch
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    rng = torch.Generator().manual_seed(0)
    indices = torch.randint(len(dataset), (repeats, batch), generator=rng).tolist()
    start = time.perf_counter()
    for drawn in indices:
        [dataset[i] for i in drawn]
    parts = {"load": (time.perf_counter() - start) / repeats * 1000}
    G, D = (net.to(device) for net in build_networks(options, dataset.label_dim, dataset.resolution, dataset.num_channels))
    for phase in (p for p in make_phases(options, G, D) if p.name in ("Gmain", "Dmain")):
        grads = [(torch.randn(p.shape, generator=rng) * 1e-3).to(device) for p in phase.module.parameters()]

        def accumulate(r: int, gain: float) -> dict:
            for p, g in zip(phase.module.parameters(), grads):
                p.grad = g
            return {}

        def optimizer_step() -> None:
            if FiniteWatch is None:
                run_phase(phase, accumulate, 1)
            else:
                finite = FiniteWatch()
                run_phase(phase, accumulate, 1, finite)
                finite.check()

        optimizer_step()
        wait()
        start = time.perf_counter()
        for _ in range(repeats):
            optimizer_step()
        wait()
        parts[f"{phase.name[0]} step"] = (time.perf_counter() - start) / repeats * 1000
        if device.type == "cuda":  # issue #27's candidate: torch's fused CUDA Adam, the same math in one kernel
            group = phase.opt.param_groups[0]
            fused = torch.optim.Adam(phase.module.parameters(), lr=group["lr"], betas=group["betas"], eps=group["eps"],
                                     fused=True)
            fused.step()
            wait()
            start = time.perf_counter()
            for _ in range(repeats):
                fused.step()
            wait()
            parts[f"{phase.name[0]} fused"] = (time.perf_counter() - start) / repeats * 1000
    return parts


def measure(tree: str, argv: list[str]) -> tuple[dict[str, float], str]:
    """One child run on source tree `tree`: (ms of the minibatch and of each part, the package file it imported)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tree, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    out = subprocess.run([sys.executable, __file__, *argv], env=env, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"bench_loop: the run on {tree} failed:\n{out.stderr.strip()}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["ms"], result["package"]


def parse_args() -> argparse.Namespace:
    from stylegan2.training.config import CFG_NAMES, PRECISIONS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", action="append", default=[], help="another source tree (a folder holding stylegan2/) to time")
    parser.add_argument("--data", default="builtin:shapes")
    parser.add_argument("--cfg", default="cpu", choices=CFG_NAMES, help="the preset trained (its networks and loss settings)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--resolution", type=int, help="pad/scale the dataset to this size (MNIST: 32)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batch-gpu", type=int, help="images per pass (default: --batch, one pass per step)")
    parser.add_argument("--cbase", type=int, help="channel base (default: the preset's)")
    parser.add_argument("--cmax", type=int, help="channel maximum (default: the preset's)")
    parser.add_argument("--precision", choices=PRECISIONS, help="of the top layers (default: the preset's)")
    parser.add_argument("--steps", type=int, default=100, help="timed minibatches per measurement (one tick)")
    parser.add_argument("--warmup", type=int, help="untimed minibatches first (default: one pass over the dataset)")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per tree (the median is reported)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # checked by the parent; bench_train imports this checkout's package, not the child's tree
        return args
    from bench_train import check_at_least_one, check_device

    check_at_least_one(parser, batch=args.batch, batch_gpu=args.batch_gpu, steps=args.steps, repeats=args.repeats,
                       threads=args.threads, cbase=args.cbase, cmax=args.cmax)
    check_device(parser, args.device)
    if args.batch_gpu is not None and args.batch % args.batch_gpu:
        parser.error(f"--batch-gpu {args.batch_gpu} must divide --batch {args.batch}")
    if args.warmup is not None and args.warmup < 0:
        parser.error(f"--warmup must be at least 0, got {args.warmup}")
    from stylegan2.data import DatasetError, open_dataset

    try:  # what the children will open, so that a bad --data stops here in one line
        open_dataset(args.data, resolution=args.resolution, use_labels=False)
    except (DatasetError, ValueError, FileNotFoundError) as err:
        parser.error(f"--data: {err}")
    for tree in args.src:
        if not (Path(tree) / "stylegan2" / "__init__.py").is_file():
            parser.error(f"--src {tree}: no stylegan2 package there (pass the folder that holds stylegan2/, e.g. /tmp/rev/src)")
    return args


def child_argv(args: argparse.Namespace) -> list[str]:
    """The options a child run takes: every one but --src."""
    argv = ["--child"]
    for name in ("data", "cfg", "device", "resolution", "batch", "batch_gpu", "cbase", "cmax", "precision", "steps", "warmup",
                 "threads", "seed"):
        value = getattr(args, name)
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    return argv


def main() -> None:
    args = parse_args()
    if args.child:
        return child(args)
    argv = child_argv(args)
    trees = [("this checkout", THIS_TREE)] + [(tree, tree) for tree in args.src]
    times: list[dict[str, list[float]]] = [{} for _ in trees]
    for _ in range(args.repeats):
        for (_, tree), tree_times in zip(trees, times):
            ms, package = measure(tree, argv)
            if not package.startswith(str(Path(tree).resolve())):
                sys.exit(f"bench_loop: the run meant for {tree} imported {package}; is stylegan2 installed non-editable?")
            for part, value in ms.items():
                tree_times.setdefault(part, []).append(value)
    print(f"{args.data}, --cfg {args.cfg} on {args.device}, batch {args.batch} in passes of {args.batch_gpu or args.batch}, "
          f"{args.precision or 'the preset precision'}, "
          f"{args.threads} threads; median ms of {args.repeats} runs "
          f"(a tick of {args.steps} minibatches; the parts alone), and this checkout's speed relative to each tree:")
    medians = [{part: statistics.median(values) for part, values in tree_times.items()} for tree_times in times]
    parts = list(medians[0])
    print(f"{'tree':<24}" + "".join(f"{part:>12}" for part in parts))
    for i, (label, _) in enumerate(trees):
        print(f"{label[-24:]:<24}" + "".join(f"{medians[i][part]:>12.2f}" for part in parts))
        if i:
            print(f"{'  speed-up':<24}" + "".join(f"{medians[i][part] / medians[0][part]:>11.2f}x" for part in parts))


if __name__ == "__main__":
    main()
