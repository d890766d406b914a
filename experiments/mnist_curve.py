"""Score the snapshots of MNIST runs over time with mnist_quality's classifier, and plot the curves.

    pip install -e ".[plot]"
    python experiments/mnist_curve.py RUN_A RUN_B[,RESUMED_RUN_B] --label noaug --label ada \
        --mnist ../shared/data/mnist/mnist.npz [--every 2] [--samples 1000] --out quality.png

For every `--every`-th snapshot of each run (and always the last), prints kimg, classes covered,
mean confidence, diversity, LeNet FID and the memorization ratio (see mnist_quality.py), and plots
LeNet FID and memorization against kimg. A run continued with --resume writes a new run directory:
join the two with a comma to score them as one curve. Every snapshot is scored on the same seeds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from scoring import MNIST_CLASSIFIER, MNIST_FILE, classifier_help, new_png, require_file
from scoring.mnist import MnistScorer, training_images
from scoring.runs import pyplot, save_panels, snapshot_kimg

from stylegan2.io import load_network


def snapshots(run: str, every: int) -> list[Path]:
    """Every `every`-th snapshot of a run or of a run and its resumptions ("A,B"), in kimg order, and the last."""
    found = []
    for run_dir in map(Path, run.split(",")):
        found += run_dir.glob("network-snapshot-*.safetensors")
        if not (run_dir / "training_options.json").is_file():
            raise SystemExit(f"{run_dir}: no training_options.json here; pass a training run directory")
    if not found:
        raise SystemExit(f"{run}: no network-snapshot-*.safetensors; pass a training run directory")
    found.sort(key=snapshot_kimg)
    chosen = found[every - 1::every]
    return chosen if chosen and chosen[-1] == found[-1] else chosen + [found[-1]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run directories (RUN,RESUMED_RUN for one curve)")
    parser.add_argument("--label", action="append", help="legend label per run (default: directory name)")
    parser.add_argument("--mnist", required=True, help=MNIST_FILE)
    parser.add_argument("--classifier", default=MNIST_CLASSIFIER, help=classifier_help(MNIST_CLASSIFIER))
    parser.add_argument("--samples", type=int, default=1000, help="images of G scored per snapshot (default %(default)s)")
    parser.add_argument("--every", type=int, default=1, help="score every N-th snapshot (default: all)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads [default: torch's]")
    parser.add_argument("--out", type=new_png, help="PNG of LeNet FID and memorization against kimg (needs .[plot])")
    args = parser.parse_args()
    labels = args.label or [Path(run.split(",")[-1]).name for run in args.runs]
    if len(labels) != len(args.runs):
        raise SystemExit(f"--label given {len(labels)} times for {len(args.runs)} runs; give one per run or none")
    if args.every < 1:
        parser.error("--every must be at least 1")
    require_file(parser, "--mnist", args.mnist, MNIST_FILE)
    plt = pyplot() if args.out else None  # before the slow scoring, not after it
    if args.threads:
        torch.set_num_threads(args.threads)

    chosen = {label: snapshots(run, args.every) for run, label in zip(args.runs, labels)}  # fail before scoring
    scorer = MnistScorer(args.mnist, args.classifier, args.samples)
    curves = {}
    for label, snaps in chosen.items():
        print(f"{label}: {len(snaps)} snapshots, {args.samples} samples each")
        print(f"{'kimg':>8} {'classes':>8} {'confidence':>11} {'diversity':>10} {'LeNet FID':>10} {'memorization':>13}")
        rows, train_sets = [], {}
        for snap in snaps:
            nets = load_network(snap)
            images, requested = scorer.generate(nets.get("G_ema") or nets["G"])
            if snap.parent not in train_sets:
                train_sets[snap.parent] = training_images(snap)
            train = train_sets[snap.parent]
            s = scorer.score(images, requested, train)
            memo = float("nan") if s.memorization is None else s.memorization
            print(f"{snapshot_kimg(snap):8.3f} {s.covered:8d} {s.confidence:11.3f} {s.diversity:10.3f} {s.fid:10.2f} {memo:13.3f}",
                  flush=True)
            rows.append((snapshot_kimg(snap), s.fid, memo))
        curves[label] = rows

    if plt is not None:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
        for label, rows in curves.items():
            kimg = [r[0] for r in rows]
            axes[0].plot(kimg, [r[1] for r in rows], label=label)
            axes[1].plot(kimg, [r[2] for r in rows], label=label)
        axes[0].set_title(f"LeNet FID ({args.samples} samples, lower is better)")
        axes[0].set_yscale("log")
        axes[1].set_title("memorization (1: new digits, < 1: copies)")
        save_panels(fig, axes, args.out)


if __name__ == "__main__":
    main()
