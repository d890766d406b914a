"""Self-conditioning: clusters of unlabeled images, used as class labels for training.

A GAN trained on the clusters of its data as classes, drawing each cluster as often as it occurs,
cannot drop a cluster the way an unconditional GAN drops modes (Liu et al., "Diverse Image
Generation via Self-Conditioned GANs", CVPR 2020). Here the clusters are fixed before training:
k-means on small thumbnails of the images, seeded, so a run and its resume find the same ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from ..utils.progress import progress_bar
from .errors import DatasetError

if TYPE_CHECKING:
    from .dataset import ImageDataset

THUMBNAIL_SIZE = 16  # images are area-averaged to at most this many pixels a side before k-means
MAX_ITERATIONS = 100  # Lloyd steps, unless no image changes cluster earlier
MAX_FIT_ROWS = 100_000  # k-means is fitted on a random subset of larger datasets
_CHUNK = 16384  # rows of the distance matrix computed at once


def thumbnails(dataset: ImageDataset, size: int = THUMBNAIL_SIZE, progress: bool = False) -> torch.Tensor:
    """The dataset's distinct images (no mirrored copies), area-averaged to size x size: float32 [N, C*size*size] in [0, 1].
    `progress`: a bar on stderr (decoding a large dataset takes minutes; a log gets a line a minute, --quiet none)."""
    out = []
    bar = progress_bar(total=dataset.distinct_len, desc="reading images to cluster", unit="img", show=progress)
    for start in range(0, dataset.distinct_len, 1024):
        batch = np.stack([dataset[i][0] for i in range(start, min(start + 1024, dataset.distinct_len))])
        bar.update(len(batch))
        images = torch.from_numpy(batch).to(torch.float32) / 255
        if images.shape[-1] > size:
            images = F.adaptive_avg_pool2d(images, size)
        out.append(images.flatten(1))
    bar.close()
    return torch.cat(out)


def _nearest(x: torch.Tensor, x_sq: torch.Tensor, centers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(index of the nearest center, squared distance to it) for every row of float64 x (x_sq: its squared norms)."""
    c_sq = (centers * centers).sum(1)
    labels, dists = [], []
    for rows, rows_sq in zip(x.split(_CHUNK), x_sq.split(_CHUNK)):
        value, index = (rows_sq[:, None] - 2 * rows @ centers.t() + c_sq).min(1)
        labels.append(index)
        dists.append(value.clamp_min(0))
    return torch.cat(labels), torch.cat(dists)


def kmeans(features: torch.Tensor, k: int, *, seed: int) -> torch.Tensor:
    """Cluster index (int64 [N]) of each row: k-means++ seeding, then Lloyd steps until nothing moves.

    Fitted on at most MAX_FIT_ROWS rows (a seeded random subset), then every row gets its nearest center.
    """
    generator = torch.Generator().manual_seed(seed)
    everything = features.to(torch.float64)
    fit = everything
    if len(fit) > MAX_FIT_ROWS:
        fit = everything[torch.randperm(len(fit), generator=generator)[:MAX_FIT_ROWS]]
    n, fit_sq = fit.shape[0], (fit * fit).sum(1)
    centers = fit[torch.randint(n, (1,), generator=generator)]
    _, dist = _nearest(fit, fit_sq, centers)
    for _ in range(k - 1):  # k-means++: each next center drawn with odds proportional to squared distance
        pick = torch.multinomial(dist, 1, generator=generator) if dist.sum() > 0 else torch.randint(n, (1,), generator=generator)
        centers = torch.cat([centers, fit[pick]])
        dist = torch.minimum(dist, _nearest(fit, fit_sq, centers[-1:])[1])
    labels = _nearest(fit, fit_sq, centers)[0]
    for _ in range(MAX_ITERATIONS):
        sums = torch.zeros_like(centers).index_add_(0, labels, fit)
        counts = torch.bincount(labels, minlength=k)
        empty = counts == 0
        centers = torch.where(empty[:, None], centers, sums / counts.clamp_min(1)[:, None])
        if empty.any():  # restart an empty cluster at the point that is worst served now
            _, dist = _nearest(fit, fit_sq, centers)
            centers[empty] = fit[dist.topk(int(empty.sum())).indices]
        new_labels = _nearest(fit, fit_sq, centers)[0]
        if torch.equal(new_labels, labels):
            break
        labels = new_labels
    if fit is everything:
        return labels
    return _nearest(everything, (everything * everything).sum(1), centers)[0]


def cluster_count_problem(k: int, images: int, source: str | None = None) -> str | None:
    """Why `k` clusters cannot label `images` images (at least 2, and at most one per image), or None when they can;
    `source`, the data's spec, is named in the message when given."""
    if 2 <= k <= images:
        return None
    where = f" in {source}" if source else ""
    return f"--clusters {k}: need at least 2 clusters and at most one per image ({images:,} images{where})"


def cluster_dataset(dataset: ImageDataset, k: int, *, seed: int, progress: bool = False) -> list[float]:
    """Label the dataset's images with k-means clusters of their thumbnails; returns each cluster's share.
    `progress`: a bar on stderr while the images are read."""
    if dataset.has_labels:
        raise DatasetError(f"{dataset.name}: clusters replace class labels, but this dataset is opened with labels")
    n = dataset.distinct_len
    problem = cluster_count_problem(k, n)
    if problem:
        raise DatasetError(problem)
    labels = kmeans(thumbnails(dataset, progress=progress), k, seed=seed)
    counts = torch.bincount(labels, minlength=k)
    if (counts == 0).any():
        raise DatasetError(f"{dataset.name}: only {int((counts > 0).sum())} distinct clusters among {n:,} images; "
                           f"lower --clusters")
    dataset.assign_labels(labels.numpy(), k)
    return (counts.to(torch.float64) / n).tolist()
