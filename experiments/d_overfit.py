"""Does the discriminator memorize its training images? Compare D on training, held-out and fake images.

    python experiments/d_overfit.py RUN_DIR --heldout ../shared/data/mnist/mnist.npz:x_test [--images 1000]

The measurement of Karras et al. 2020 (ADA), Fig. 1b-c: for every snapshot of a run, D's mean
output on (a) the run's own training images, (b) images of the same kind that D never saw and
(c) samples of the snapshot's G. A D that has learned "real" scores (a) and (b) alike; a D that
has memorized its training set scores (b) like (c), far below (a). No augmentation is applied
here, whatever the run used. Prints one table row per snapshot (mean output, and the share of
images scored above zero: "called real"); `--ranges` adds the means over kimg ranges, `--out` a plot.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from scoring import new_png
from scoring.runs import pyplot, snapshot_kimg

from stylegan2.data import open_dataset
from stylegan2.data.errors import DatasetError
from stylegan2.io import load_network
from stylegan2.training.loss import pack_samples


def images(dataset, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `count` images of a dataset in [-1, 1], with their labels."""
    items = [dataset[i] for i in range(min(count, len(dataset)))]
    img = torch.from_numpy(np.stack([x for x, _ in items])).float() / 127.5 - 1
    c = torch.from_numpy(np.stack([y for _, y in items]))
    return img, c


@torch.no_grad()
def d_scores(D: torch.nn.Module, img: torch.Tensor, c: torch.Tensor, pack: int, batch: int) -> torch.Tensor:
    """D's raw outputs, one per pack of `pack` consecutive images, in minibatches of `batch` images as in training."""
    n = img.shape[0] // batch * batch
    img, c = img[:n], c[:n]
    out = [D(*pack_samples(img[i:i + batch], c[i:i + batch], pack)) for i in range(0, n, batch)]
    return torch.cat(out).flatten()


@torch.no_grad()
def fakes(G: torch.nn.Module, c: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """One sample of G per label row of `c` (random noise, no truncation, unclamped as D sees them in training)."""
    z = torch.randn(c.shape[0], G.z_dim, generator=torch.Generator().manual_seed(seed))
    return torch.cat([G(z[i:i + 256], c[i:i + 256], noise_mode="random") for i in range(0, c.shape[0], 256)])


def kimg_ranges(text: str) -> list[tuple[float, float]]:
    """argparse type of '900-1200,1200-1500': (low, high) pairs with low < high."""
    try:
        pairs = [tuple(float(x) for x in part.split("-")) for part in text.split(",")]
    except ValueError:
        pairs = []
    if not pairs or any(len(p) != 2 or not p[0] < p[1] for p in pairs):
        raise argparse.ArgumentTypeError(f"give kimg ranges LOW-HIGH with LOW < HIGH, comma-separated, e.g. 900-1200,1200-1500; "
                                         f"got {text!r}")
    return pairs


COLUMNS = ("D(train)", "D(held)", "D(fake)", "real train", "real held", "real fake")


def row(kimg: str, values: list[float]) -> str:
    """One table line: the three mean outputs, then the three shares above zero as percentages."""
    return f"{kimg:>11} " + " ".join(f"{v:9.3f}" for v in values[:3]) + " " + " ".join(f"{v:10.0%}" for v in values[3:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", nargs="+", type=Path, help="training run directories")
    parser.add_argument("--heldout", required=True, help="dataset spec of images D never saw, e.g. mnist.npz:x_test")
    parser.add_argument("--data", help="the runs' training data, where their stored --data path (as given, maybe relative to "
                        "where they were started) does not resolve from here [default: the stored path]")
    parser.add_argument("--images", type=int, default=1000, help="images of each kind (default %(default)s)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads [default: torch's]")
    parser.add_argument("--ranges", type=kimg_ranges, default=[], help="also print the mean of the snapshots with LOW < kimg "
                        "<= HIGH for each range, e.g. 900-1200,1200-1500")
    parser.add_argument("--out", type=new_png, default=None, help="plot D(train) - D(held-out) and D(train) - D(fake) against kimg")
    args = parser.parse_args()
    if args.images < 2:
        parser.error(f"--images must be at least 2, got {args.images}")
    if args.threads:
        torch.set_num_threads(args.threads)
    plt = pyplot() if args.out else None  # before the slow scoring, not after it

    train_sets, heldout_sets = {}, {}
    for run in args.run:  # check every run and open its training data before the slow scoring starts
        if not (run / "training_options.json").is_file() or not any(run.glob("network-snapshot-*.safetensors")):
            raise SystemExit(f"{run}: needs training_options.json and network-snapshot-*.safetensors; pass a training run directory")
        opts = json.loads((run / "training_options.json").read_text())
        if opts.get("clusters") and not opts["cond"]:  # D expects k-means labels, which held-out images do not have
            raise SystemExit(f"{run}: trained on {opts['clusters']} k-means clusters (--clusters); d_overfit.py scores runs "
                             "trained without them (--clusters 0 or --cond)")
        try:
            train_sets[run] = opts, open_dataset(args.data or opts["data"], resolution=opts["resolution"], max_size=opts["max_size"],
                                                 use_labels=opts["cond"], seed=opts["seed"])
        except DatasetError as error:
            raise SystemExit(f"{run}: its training data: {error}" + ("" if args.data else "; pass it with --data PATH"))
        try:
            heldout_sets[run] = open_dataset(args.heldout, resolution=opts["resolution"], use_labels=opts["cond"])
        except DatasetError as error:
            raise SystemExit(f"--heldout: {error}")

    for run, (opts, _) in train_sets.items():  # D is run on whole steps of the run's batch
        if args.images < opts["batch_gpu"]:
            parser.error(f"--images {args.images} is less than {run}'s batch per step ({opts['batch_gpu']}); give at least that")
    curves = {}
    for run, (opts, train_set) in train_sets.items():
        train_img, train_c = images(train_set, args.images)
        held_img, held_c = images(heldout_sets[run], args.images)
        pack = opts.get("pack", 1)
        print(f"{run}  ({len(train_set)} training images, aug {opts['aug']}, pack {pack})")
        print(f"{'kimg':>11} " + " ".join(f"{name:>9}" for name in COLUMNS[:3]) + " " + " ".join(f"{name:>10}" for name in COLUMNS[3:]))
        rows = []
        for snap in sorted(run.glob("network-snapshot-*.safetensors")):
            kimg = snapshot_kimg(snap)
            nets = load_network(snap)
            D, G = nets["D"], nets.get("G", nets.get("G_ema"))
            s = {name: d_scores(D, img, c, pack, opts["batch_gpu"]) for name, img, c in (
                ("train", train_img, train_c), ("held", held_img, held_c), ("fake", fakes(G, train_c), train_c))}
            kinds = ("train", "held", "fake")
            values = [s[k].mean().item() for k in kinds] + [(s[k] > 0).float().mean().item() for k in kinds]
            print(row(f"{kimg:.3f}", values), flush=True)
            rows.append((kimg, *values))
        for low, high in args.ranges:
            inside = [r[1:] for r in rows if low < r[0] <= high]
            if inside:
                count = f"{len(inside)} snapshot" + ("s" if len(inside) > 1 else "")
                print(row(f"{low:g}-{high:g}", np.mean(inside, axis=0).tolist()) + f"  (mean of {count})")
            else:
                print(f"{f'{low:g}-{high:g}':>11}  no snapshot in this range")
        curves[f"{run.parent.name}/{run.name}"] = rows

    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 4))
        for label, rows in curves.items():
            k = [r[0] for r in rows]
            (line,) = ax.plot(k, [r[1] - r[2] for r in rows], label=f"{label}: train - held-out")
            ax.plot(k, [r[1] - r[3] for r in rows], ls="--", color=line.get_color(), label=f"{label}: train - fake")
        ax.set_xlabel("kimg")
        ax.set_ylabel("gap in mean D output")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.out, dpi=120)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
