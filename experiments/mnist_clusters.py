"""How pure are `--clusters` on MNIST? The digit labels, unused by training, judge the clusters.

    python experiments/mnist_clusters.py --mnist ../shared/data/mnist/mnist.npz [--clusters 10,20,50,100] [--seed 0]

Clusters MNIST's 60,000 training digits (padded to 32 px) exactly as `stylegan2 train --clusters K`
does, then prints, for each K: the purity (the share of images whose cluster's majority digit is
their own digit), and the share of each digit that a generator would draw if it drew only each
cluster's majority digit, with each cluster as often as it occurs (the worst case of within-cluster
collapse for the class balance).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from stylegan2.data import open_dataset
from stylegan2.data.clusters import cluster_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", required=True)
    parser.add_argument("--clusters", default="10,20,50,100", help="comma-separated cluster counts")
    parser.add_argument("--seed", type=int, default=0, help="the run's --seed (it seeds k-means)")
    args = parser.parse_args()
    digits = np.load(args.mnist)["y_train"].astype(np.int64)
    for k in (int(v) for v in args.clusters.split(",")):
        dataset = open_dataset(f"{args.mnist}:x_train", resolution=32)
        start = time.perf_counter()
        cluster_dataset(dataset, k, seed=args.seed)
        seconds = time.perf_counter() - start
        clusters = np.array([int(dataset.get_label(i).argmax()) for i in range(len(dataset))])
        table = np.zeros((k, 10))
        np.add.at(table, (clusters, digits), 1)
        purity = table.max(1).sum() / len(digits)
        collapsed = np.bincount(table.argmax(1), weights=table.sum(1), minlength=10) / len(digits)
        print(f"{k} clusters ({seconds:.0f} s): purity {purity:.3f}; majority-digit shares "
              + " ".join(f"{d}:{share:.1%}" for d, share in enumerate(collapsed))
              + f" (min {collapsed.min():.1%}, max {collapsed.max():.1%})", flush=True)


if __name__ == "__main__":
    main()
