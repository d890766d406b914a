"""Seconds per kimg of whole training runs: ours (`stylegan2 train`) and NVIDIA's (its train.py) on one dataset zip.

    python benchmarks/bench_run.py --official PATH --cfg paper256 --resolution 256 --batch 32     # on a GPU
    python benchmarks/bench_run.py --cfg cpu --resolution 32 --kimg 0.5 --tick 0.25               # ours alone, on CPU

bench_train.py times the networks' phases alone; this times what a user runs: data loading, augmentation
(ADA), the phases, the optimizers, G_ema, statistics and each tick's bookkeeping. Both train on the same
zip (builtin:shapes rendered at --resolution, NVIDIA's dataset layout), in child processes, one after the
other, for --kimg in ticks of --tick kimg, without metrics or intermediate snapshots. The table gives each
tick's sec/kimg as the run itself logs it (stats.jsonl) and, to compare, their mean over the ticks that start
after the first --tick kimg (the images of those ticks over their time): ticks before include warm-up (cuDNN
autotuning, the data loader's start) and NVIDIA's first tick is its first minibatch. NVIDIA's loop needs CUDA.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NVIDIA_CFGS = ("auto", "stylegan2", "paper256", "paper512", "paper1024", "cifar")  # the --cfg values of its train.py


Ticks = list[tuple[float, float]]  # (kimg at the tick's end, its sec/kimg)


def tick_times(stats_jsonl: Path) -> Ticks:
    """Each tick a run logged; both loops write these two fields to stats.jsonl."""
    if not stats_jsonl.exists():
        return []
    ticks = []
    for line in stats_jsonl.read_text().splitlines():
        try:
            fields = json.loads(line)
        except json.JSONDecodeError:  # a line cut off by the child's timeout
            continue
        ticks.append((fields["Progress/kimg"]["mean"], fields["Timing/sec_per_kimg"]["mean"]))
    return ticks


def steady_sec_per_kimg(ticks: Ticks, warmup_kimg: float) -> float | None:
    """Seconds over kimg of the ticks that start at `warmup_kimg` or later (all ticks if none does)."""
    spans = [(start, end, sec) for (start, _), (end, sec) in zip([(0.0, 0.0), *ticks], ticks)]
    kept = [span for span in spans if span[0] >= warmup_kimg - 1e-9] or spans
    kimg = sum(end - start for start, end, _ in kept)
    return sum((end - start) * sec for start, end, sec in kept) / kimg if kimg > 0 else None


def run_child(name: str, command: list[str], run_root: Path, timeout: float) -> tuple[Ticks, str]:
    """Run one training child; return its ticks and a note (the plugin line for NVIDIA's, the failure if any)."""
    log = run_root.parent / f"{run_root.name}.log"
    with open(log, "w") as out:
        try:
            status = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            status = "timed out"
    text = log.read_text(errors="replace")
    note = next((line for line in text.splitlines() if line.startswith("official: ")), "")
    found = sorted(run_root.glob("*/stats.jsonl"))
    ticks = tick_times(found[-1]) if found else []
    if status != 0:
        note = "; ".join(filter(None, [note, f"exit {status}"]))
        print(f"--- {name}: exit {status}; the end of its output:\n{text[-3000:]}", file=sys.stderr)
    return ticks, note


def official_child(args: argparse.Namespace) -> None:
    """In a child process: NVIDIA's training loop as its train.py sets it up, with ticks of --tick kimg."""
    import torch
    from official_ops import accept_sampler_data_source, import_official, plugin_status

    import_official(args.official, build=True)
    accept_sampler_data_source()
    print(plugin_status(torch.device("cuda")), flush=True)
    import train  # NVIDIA's train.py, from import_official's path

    desc, kwargs = train.setup_training_loop_kwargs(
        gpus=1, snap=10**6, metrics=[], seed=args.seed, data=args.data, cfg=args.cfg, kimg=args.kimg_int,
        batch=args.batch, **({"fp32": True} if args.fp32 else {}))
    kwargs.kimg_per_tick = args.tick
    kwargs.image_snapshot_ticks = None  # ours writes no grids between snapshots either (its --snap 1000)
    kwargs.run_dir = str(Path(args.outdir) / f"00000-{desc}")
    os.makedirs(kwargs.run_dir)
    with tempfile.TemporaryDirectory() as temp_dir:
        train.subprocess_fn(rank=0, args=kwargs, temp_dir=temp_dir)


def make_zip(path: Path, resolution: int, images: int) -> None:
    """builtin:shapes at `resolution` as a dataset zip both loops read."""
    from stylegan2.data import convert_dataset

    convert_dataset(f"builtin:shapes?n={images}", path, resolution=resolution)


def table(results: dict[str, tuple[Ticks, str]], warmup_kimg: float) -> None:
    print(f"{'implementation':<16}{'s/kimg':>8}   every tick (kimg at its end: s/kimg)")
    timed = {}
    for name, (ticks, note) in results.items():
        steady = steady_sec_per_kimg(ticks, warmup_kimg)
        if steady is not None:
            timed[name] = steady
        each = ", ".join(f"{kimg:.3f}: {sec:.2f}" for kimg, sec in ticks) or "no tick logged"
        print(f"{name:<16}{'-' if steady is None else f'{steady:.2f}':>8}   {each}" + (f"   ({note})" if note else ""))
    if "ours" in timed and "NVIDIA" in timed:
        print(f"speed-up (NVIDIA's s/kimg / ours): {timed['NVIDIA'] / timed['ours']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official", help="path to a checkout of NVlabs/stylegan2-ada-pytorch to compare with (CUDA)")
    parser.add_argument("--cfg", default="paper256", help="--cfg of both runs")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--kimg", type=float, default=6, help="length of each run (NVIDIA's takes whole kimg)")
    parser.add_argument("--tick", type=float, default=2, help="kimg per tick (NVIDIA's train.py fixes 4; set here)")
    parser.add_argument("--images", type=int, default=1000, help="images in the dataset zip")
    parser.add_argument("--fp32", action="store_true", help="both runs in float32 (--fp32 for both)")
    parser.add_argument("--ours-args", default="", help="more options for `stylegan2 train` (e.g. '--cbase 1024 --nhwc')")
    parser.add_argument("--timeout", type=float, default=300, help="seconds for each run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child-official", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--outdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.kimg_int = round(args.kimg)
    if args.child_official:
        official_child(args)
        return
    import torch

    if args.official and not (Path(args.official) / "train.py").exists():
        parser.error(f"--official {args.official}: not a checkout of NVlabs/stylegan2-ada-pytorch (no train.py)")
    nvidia = args.official and torch.cuda.is_available()
    if args.official and not nvidia:
        print("NVIDIA's train.py needs CUDA: timing ours alone on this machine")
    if nvidia and args.cfg not in NVIDIA_CFGS:
        parser.error(f"--cfg {args.cfg}: NVIDIA's train.py takes {', '.join(NVIDIA_CFGS)}")
    if nvidia and args.kimg != args.kimg_int:
        parser.error(f"--kimg {args.kimg}: NVIDIA's train.py takes whole kimg")
    if args.tick <= 0 or args.kimg < args.tick:
        parser.error(f"--tick must be above 0 and at most --kimg ({args.kimg:g}), got {args.tick:g}")
    if args.images < 1 or args.batch < 1:
        parser.error(f"--images and --batch must be at least 1, got {args.images} and {args.batch}")

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        data = work / f"shapes{args.resolution}.zip"
        make_zip(data, args.resolution, args.images)
        print(f"{args.cfg}, {args.resolution} px, batch {args.batch}, {args.kimg:g} kimg in ticks of {args.tick:g}, "
              f"{args.images} images, {'float32' if args.fp32 else 'the preset precision'}", flush=True)
        ours = [sys.executable, "-m", "stylegan2", "train", "--data", str(data), "--cfg", args.cfg,
                "--batch", str(args.batch), "--kimg", f"{args.kimg:g}", "--tick", f"{args.tick:g}", "--snap", "1000",
                "--metrics", "none", "--seed", str(args.seed), "--outdir", str(work / "ours"),
                *(["--fp32"] if args.fp32 else []), *shlex.split(args.ours_args)]
        results = {"ours": run_child("ours", ours, work / "ours", args.timeout)}
        if nvidia:
            command = [sys.executable, str(Path(__file__).resolve()), "--child-official", "--official", args.official,
                      "--data", str(data), "--outdir", str(work / "nvidia"), "--cfg", args.cfg, "--batch", str(args.batch),
                      "--kimg", f"{args.kimg:g}", "--tick", f"{args.tick:g}", "--seed", str(args.seed),
                      *(["--fp32"] if args.fp32 else [])]
            results["NVIDIA"] = run_child("NVIDIA", command, work / "nvidia", args.timeout)
        table(results, warmup_kimg=args.tick)
    failed = [name for name, (ticks, _) in results.items() if not ticks]
    if failed:  # a run that logged nothing (its output is above) measured nothing
        sys.exit(f"no tick logged by {' and '.join(failed)}: nothing was measured")


if __name__ == "__main__":
    main()
