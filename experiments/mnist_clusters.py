"""How pure are `--clusters` on MNIST, and how does a G trained on them draw each one? MNIST's digit labels, unused by training, judge.

    python experiments/mnist_clusters.py --mnist ../shared/data/mnist/mnist.npz [--clusters 10,20,50,100] [--seed 0]
    python experiments/mnist_clusters.py --mnist ../shared/data/mnist/mnist.npz --clusters 100 --seed 5 \
        --network RUN/network-snapshot-000080.safetensors [--mixed 8]

Clusters MNIST's 60,000 training digits (padded to 32 px) exactly as `stylegan2 train --clusters K`
does, then prints, for each K: the purity (the share of images whose cluster's majority digit is
their own digit), and the share of each digit that a generator would draw if it drew only each
cluster's majority digit, with each cluster as often as it occurs (the worst case of within-cluster
collapse for the class balance).

With `--network` (a snapshot of a run on those clusters: same K and --seed), G_ema is asked for
each cluster 100 times (z seeds 0..99, constant noise) and the LeNet of mnist_quality.py reads the
samples: printed are the digit shares if each cluster is drawn as often as it occurs, and, for the
`--mixed` least pure clusters, the real digits of the cluster beside the digits G draws for it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scoring import MNIST_CLASSIFIER, MNIST_FILE, SNAPSHOT_FILE, classifier_help, require_file
from scoring.mnist import as_saved, train_classifier
from scoring.samples import seed_latents

from stylegan2.data import open_dataset
from stylegan2.data.clusters import cluster_dataset
from stylegan2.data.errors import DatasetError

SAMPLES_PER_CLUSTER = 100


@torch.no_grad()
def drawn_digits(network: str, k: int, classifier: torch.nn.Module) -> np.ndarray:
    """[k, 10] digit counts of SAMPLES_PER_CLUSTER samples of G_ema for each cluster."""
    from stylegan2.io import load_network

    G = load_network(network)["G_ema"]
    if G.c_dim != k:
        raise SystemExit(f"{network}: G has {G.c_dim} labels, not {k} clusters; give the run's --clusters")
    z = seed_latents(G.z_dim, SAMPLES_PER_CLUSTER)
    counts = np.zeros((k, 10))
    for c in range(k):
        images = G(z, F.one_hot(torch.full((len(z),), c), k).float(), noise_mode="const")
        counts[c] = np.bincount(classifier(as_saved(images)).argmax(1).numpy(), minlength=10)  # as mnist_quality.py scores them
    return counts


def cluster_counts(text: str) -> list[int]:
    """'10,20,50' -> [10, 20, 50]; each count at least 2 (what k-means of the images needs)."""
    try:
        counts = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"give comma-separated whole numbers, e.g. 10,20,50, got {text!r}") from None
    if min(counts) < 2:
        raise argparse.ArgumentTypeError(f"each cluster count must be at least 2, got {text!r}")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", required=True)
    parser.add_argument("--clusters", type=cluster_counts, default=cluster_counts("10,20,50,100"),
                        help="comma-separated cluster counts, each at least 2")
    parser.add_argument("--seed", type=int, default=0, help="the run's --seed (it seeds k-means)")
    parser.add_argument("--network", help="a snapshot trained on these clusters (one K): how G draws each cluster")
    parser.add_argument("--mixed", type=int, default=8, help="with --network, list this many of the least pure clusters")
    parser.add_argument("--classifier", default=MNIST_CLASSIFIER, help=classifier_help(MNIST_CLASSIFIER))
    args = parser.parse_args()
    counts = args.clusters
    if args.network and len(counts) != 1:
        parser.error("--network takes the one cluster count its run was trained on (--clusters K)")
    require_file(parser, "--mnist", args.mnist, MNIST_FILE)
    if args.network:
        require_file(parser, "--network", args.network, SNAPSHOT_FILE)
    with np.load(args.mnist) as mnist:
        if not {"x_train", "y_train"} <= set(mnist.files):
            parser.error(f"--mnist {args.mnist}: needs arrays x_train and y_train (MNIST's digits and labels), has {mnist.files}")
        digits = mnist["y_train"].astype(np.int64)
    for k in counts:
        dataset = open_dataset(f"{args.mnist}:x_train", resolution=32)
        start = time.perf_counter()
        try:
            cluster_dataset(dataset, k, seed=args.seed)
        except DatasetError as err:  # more clusters than images
            parser.exit(1, f"{err}\n")
        seconds = time.perf_counter() - start
        clusters = np.array([int(dataset.get_label(i).argmax()) for i in range(len(dataset))])
        table = np.zeros((k, 10))
        np.add.at(table, (clusters, digits), 1)
        purity = table.max(1).sum() / len(digits)
        collapsed = np.bincount(table.argmax(1), weights=table.sum(1), minlength=10) / len(digits)
        print(f"{k} clusters ({seconds:.0f} s): purity {purity:.3f}; majority-digit shares "
              + " ".join(f"{d}:{share:.1%}" for d, share in enumerate(collapsed))
              + f" (min {collapsed.min():.1%}, max {collapsed.max():.1%})", flush=True)
    if args.network:
        real = table / table.sum(1, keepdims=True)
        weight = table.sum(1) / table.sum()
        drawn = drawn_digits(args.network, k, train_classifier(args.mnist, Path(args.classifier))) / SAMPLES_PER_CLUSTER
        shares = (drawn * weight[:, None]).sum(0)
        print("G, each cluster drawn as often as it occurs: " + " ".join(f"{d}:{v:.1%}" for d, v in enumerate(shares)))
        print(f"the {args.mixed} least pure clusters: real digits (top 3) | the same digits among G's samples")
        for c in np.argsort(real.max(1))[: args.mixed]:
            top = np.argsort(-real[c])[:3]
            print(f"  cluster {c:3d} ({weight[c]:.1%} of the images): "
                  + " ".join(f"{d}:{real[c, d]:.0%}" for d in top) + " | "
                  + " ".join(f"{d}:{drawn[c, d]:.0%}" for d in top) + f", other digits {1 - drawn[c, top].sum():.0%}")


if __name__ == "__main__":
    main()
