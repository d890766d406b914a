"""Self-conditioning clusters: k-means on thumbnails, labels per image, and their errors."""

import numpy as np
import pytest
import torch

from stylegan2.data import DatasetError, open_dataset
from stylegan2.data.clusters import cluster_count_problem, cluster_dataset, kmeans, thumbnails
from stylegan2.utils.progress import quiet


def _blobs(n_per: int, centers: torch.Tensor, spread: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    truth = torch.arange(len(centers)).repeat_interleave(n_per)
    return centers[truth] + spread * torch.randn(len(truth), centers.shape[1], generator=g), truth


def _same_partition(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether two labelings group the rows the same way (cluster numbers may differ)."""
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_kmeans_finds_well_separated_clusters_exactly():
    centers = torch.eye(5) * 10
    features, truth = _blobs(40, centers, 0.5)
    labels = kmeans(features[torch.randperm(200, generator=torch.Generator().manual_seed(1))], 5, seed=0)
    order = torch.randperm(200, generator=torch.Generator().manual_seed(1))
    assert _same_partition(labels, truth[order])


def test_kmeans_is_reproducible_and_independent_of_the_thread_count():
    features, _ = _blobs(300, torch.randn(8, 32), 1.0)  # overlapping clusters: many near-ties
    first = kmeans(features, 12, seed=3)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        second = kmeans(features, 12, seed=3)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(first, second)
    assert not torch.equal(first, kmeans(features, 12, seed=4))  # the seed matters


def test_kmeans_lloyd_steps_reach_a_fixed_point():
    """At the end, every row is nearest to the mean of its own cluster."""
    features, _ = _blobs(100, torch.randn(4, 8), 1.5)
    labels = kmeans(features, 6, seed=0)
    means = torch.stack([features[labels == j].double().mean(0) for j in range(6)])
    assert torch.equal(torch.cdist(features.double(), means).argmin(1), labels)


def _colour_npz(tmp_path, colours, per_colour=6):
    """A .npz of 8x8 RGB images: `per_colour` noisy copies of each colour."""
    rng = np.random.default_rng(0)
    images = np.concatenate([np.clip(np.full((per_colour, 8, 8, 3), c) + rng.integers(-8, 9, (per_colour, 8, 8, 3)), 0, 255)
                             for c in colours]).astype(np.uint8)
    path = tmp_path / "colours.npz"
    np.savez(path, x_train=images)
    return path, np.repeat(np.arange(len(colours)), per_colour)


def test_cluster_dataset_labels_every_image_and_returns_the_shares(tmp_path):
    path, truth = _colour_npz(tmp_path, [(255, 0, 0), (0, 255, 0), (0, 0, 255)])
    dataset = open_dataset(path, mirror=True)
    shares = cluster_dataset(dataset, 3, seed=0)
    assert shares == pytest.approx([1 / 3] * 3)
    labels = torch.tensor([int(dataset.get_label(i).argmax()) for i in range(len(dataset))])
    assert dataset.label_dim == 3 and dataset.has_labels
    assert _same_partition(labels[:18], torch.from_numpy(truth))
    assert torch.equal(labels[18:], labels[:18])  # mirrored copies keep their image's cluster
    image, label = dataset[20]
    assert label.shape == (3,) and label.sum() == 1


def test_cluster_dataset_covers_only_the_kept_subset(tmp_path):
    path, _ = _colour_npz(tmp_path, [(255, 0, 0), (0, 0, 255)], per_colour=10)
    dataset = open_dataset(path, max_size=7, seed=1)
    shares = cluster_dataset(dataset, 2, seed=0)
    assert dataset.distinct_len == 7 and sum(shares) == pytest.approx(1)
    assert sorted(round(s * 7) for s in shares) == sorted(np.bincount([int(dataset.get_label(i).argmax()) for i in range(7)]))


def test_thumbnails_are_area_averages(tmp_path):
    images = np.zeros((2, 32, 32, 1), np.uint8)
    images[0, :16] = 255  # top half white
    path = tmp_path / "halves.npz"
    np.savez(path, x_train=images)
    thumbs = thumbnails(open_dataset(path), size=2)
    assert thumbs.shape == (2, 4)
    assert thumbs[0].tolist() == [1.0, 1.0, 0.0, 0.0] and thumbs[1].tolist() == [0.0] * 4


def test_reading_the_thumbnails_draws_the_commands_bar_which_quiet_turns_off(tmp_path, monkeypatch):
    """The clustering pass shows progress as every other long pass does (a bar on a terminal, nothing under --quiet)."""
    np.savez(tmp_path / "two.npz", x_train=np.zeros((2, 8, 8, 1), np.uint8))
    dataset = open_dataset(tmp_path / "two.npz")
    monkeypatch.setattr("stylegan2.utils.progress.is_terminal", lambda stream: True)
    shown = []
    monkeypatch.setattr("tqdm.tqdm.update", lambda bar, n=1: shown.append(not bar.disable))
    thumbnails(dataset, size=2, progress=True)
    with quiet():
        thumbnails(dataset, size=2, progress=True)
    assert shown == [True, False]


@pytest.mark.parametrize("k,message", [
    (1, "--clusters 1: need at least 2 clusters"),
    (13, "--clusters 13: need at least 2 clusters and at most one per image (12 images)"),
])
def test_impossible_cluster_counts_are_refused(tmp_path, k, message):
    path, _ = _colour_npz(tmp_path, [(255, 0, 0), (0, 0, 255)])
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cluster_dataset(open_dataset(path), k, seed=0)


def test_fewer_distinct_images_than_clusters_is_refused(tmp_path):
    path = tmp_path / "same.npz"
    np.savez(path, x_train=np.zeros((6, 8, 8, 1), np.uint8))
    with pytest.raises(DatasetError, match="only 1 distinct clusters among 6 images; lower --clusters"):
        cluster_dataset(open_dataset(path), 3, seed=0)


def test_a_labelled_dataset_is_refused(tmp_path):
    dataset = open_dataset("builtin:shapes?n=16", use_labels=True)
    with pytest.raises(DatasetError, match="clusters replace class labels"):
        cluster_dataset(dataset, 4, seed=0)


def test_reading_the_images_to_cluster_shows_a_bar_in_a_terminal_only(monkeypatch):
    """Clustering 20,000 images read them for most of a minute without a word; a job's log file gets no bar lines."""
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for stderr, shown in ((Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr(sys, "stderr", stderr)
        cluster_dataset(open_dataset("builtin:shapes?n=64"), 4, seed=0, progress=True)
        assert ("reading images to cluster" in stderr.getvalue() and "64/64" in stderr.getvalue()) == shown


def test_the_cluster_count_rule_names_the_data_when_given():
    """One rule and message for clustering and for training's check before it (which names the --data)."""
    assert cluster_count_problem(2, 2) is None and cluster_count_problem(16, 16, "x.zip") is None
    assert cluster_count_problem(1, 16) == "--clusters 1: need at least 2 clusters and at most one per image (16 images)"
    assert cluster_count_problem(20, 16, "builtin:shapes?n=16") == ("--clusters 20: need at least 2 clusters and at most "
                                                                   "one per image (16 images in builtin:shapes?n=16)")
