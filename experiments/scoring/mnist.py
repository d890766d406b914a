"""Scoring generated MNIST digits with a small LeNet: classes, confidence, diversity, LeNet FID, memorization.

Shared by experiments/mnist_quality.py and experiments/mnist_curve.py; mnist_quality.py's docstring
explains each number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .classifiers import cached_classifier
from .samples import seed_latents


class LeNet(nn.Module):
    """A small convnet for 32x32 digits (about 99% test accuracy after one epoch)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 16, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The 128-d features in front of the last layer (what LeNet FID compares)."""
        return self.head[:-1](self.features(x))


def load_mnist(path: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images padded to 32x32 and scaled to [-1, 1] like the GAN's, and labels."""
    data = np.load(path)
    x = torch.from_numpy(np.pad(data[f"x_{split}"], ((0, 0), (2, 2), (2, 2)))).float().unsqueeze(1) / 127.5 - 1
    return x, torch.from_numpy(data[f"y_{split}"].astype(np.int64))


def as_saved(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] as they would be saved to disk: quantized to 8 bits, back in [-1, 1]."""
    from stylegan2.utils.image import to_uint8

    return to_uint8(images).float() / 127.5 - 1


def mean_pairwise_distance(images: torch.Tensor) -> float:
    """Mean L2 distance between all pairs of images (pixels in [-1, 1])."""
    flat = images.flatten(1).double()
    n = flat.shape[0]
    return (torch.cdist(flat, flat).sum() / (n * (n - 1))).item()


def within_digit_diversity(images: torch.Tensor, digits: torch.Tensor, real: torch.Tensor, real_digits: torch.Tensor) -> float:
    """Pairwise distance among the samples of each digit over that among real digits of that class, averaged."""
    ratios = []
    for d in range(10):
        fake = images[digits == d][:100]
        ratios.append(mean_pairwise_distance(fake) / mean_pairwise_distance(real[real_digits == d][: len(fake)]))
    return float(np.mean(ratios))


def lenet_fid(classifier: LeNet, images: torch.Tensor, reference: torch.Tensor) -> float:
    """Frechet distance between the classifier features of two image sets."""
    from stylegan2.metrics.scores import frechet_distance

    with torch.no_grad():
        a, b = (torch.cat([classifier.embed(x) for x in s.split(500)]).double().numpy() for s in (images, reference))
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def training_images(network: Path) -> torch.Tensor | None:
    """The run's own training set in [-1, 1] (same data, subset and seed), or None when it cannot be found."""
    from stylegan2.data import open_dataset
    from stylegan2.data.errors import DatasetError

    options = network.parent / "training_options.json"
    if not options.is_file():
        return None
    opts = json.loads(options.read_text())
    try:
        dataset = open_dataset(opts["data"], resolution=opts["resolution"], max_size=opts["max_size"], seed=opts["seed"])
    except DatasetError:
        return None
    return torch.from_numpy(np.stack([dataset[i][0] for i in range(len(dataset))])).float() / 127.5 - 1


def nearest_distance(images: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
    """For each image, the L2 distance to its nearest neighbour in `pool`."""
    return torch.cat([torch.cdist(x.flatten(1), pool.flatten(1)).min(1).values for x in images.split(500)])


def train_classifier(mnist: str, path: Path) -> LeNet:
    """Train on MNIST's training set (two epochs), or load the copy cached at `path`."""

    def fit(model: LeNet) -> None:
        x, y = load_mnist(mnist, "train")
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(0)
        for epoch in range(2):
            order = torch.randperm(len(x), generator=gen)
            for i in range(0, len(x), 128):
                idx = order[i: i + 128]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        xt, yt = load_mnist(mnist, "test")
        with torch.no_grad():
            accuracy = (model.eval()(xt).argmax(1) == yt).float().mean().item()
        print(f"classifier test accuracy {accuracy:.4f}")

    return cached_classifier(path, LeNet, fit)


@dataclass
class Scores:
    """What the classifier makes of one set of samples (conditional scores are None for an unconditional G)."""

    counts: np.ndarray
    covered: int
    confidence: float
    confident: float
    diversity: float
    fid: float
    agree: float | None = None
    within: float | None = None
    memorization: float | None = None


class MnistScorer:
    """The classifier and the test set, loaded once to score any number of generators."""

    def __init__(self, mnist: str, classifier: str | Path, samples: int) -> None:
        if not 100 <= samples <= 5000:
            raise SystemExit("--samples must be between 100 and 5000 "
                             "(LeNet FID compares them with as many of the 10,000 test digits)")
        self.classifier = train_classifier(mnist, Path(classifier))
        self.test_images, self.test_digits = load_mnist(mnist, "test")
        # MNIST's test set is ordered (its first half is the neater writers'): FID and memorization
        # compare with a fixed random shuffle of it; --real scores the other end of the shuffle.
        self.shuffled = self.test_images[torch.randperm(len(self.test_images), generator=torch.Generator().manual_seed(0))]
        self.samples = samples

    @torch.no_grad()
    def generate(self, G: nn.Module, truncation_psi: float = 1.0) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`samples` images of G (seeds 0..N-1, constant noise) and, for a class-conditional G, the digits asked for."""
        z = seed_latents(G.z_dim, self.samples)
        # A class-conditional G is asked for the digits 0..9 in turn (one grid row per class); one trained
        # on clusters (--clusters) draws its own from z, as it does for users.
        requested = torch.arange(self.samples) % 10 if G.c_dim == 10 and not G.mapping.draws_labels else None
        if requested is not None:
            c = F.one_hot(requested, 10).float().split(100)
        else:
            c = [None if G.mapping.draws_labels else torch.zeros(len(zz), G.c_dim) for zz in z.split(100)]
        images = torch.cat([G(zz, cc, truncation_psi=truncation_psi, noise_mode="const") for zz, cc in zip(z.split(100), c)])
        return images, requested

    @torch.no_grad()
    def score(self, images: torch.Tensor, requested: torch.Tensor | None = None,
              train: torch.Tensor | None = None) -> Scores:
        """Score images in [-1, 1]; `train`, the run's training images, adds the memorization ratio."""
        quantized = as_saved(images)  # score what would be saved to disk
        probs = torch.cat([F.softmax(self.classifier(x), dim=1) for x in quantized.split(500)])
        counts = np.bincount(probs.argmax(1).numpy(), minlength=10)
        top = probs.max(1).values
        scores = Scores(
            counts=counts,
            covered=int((counts / counts.sum() >= 0.05).sum()),
            confidence=top.mean().item(),
            confident=(top > 0.9).float().mean().item(),
            diversity=mean_pairwise_distance(quantized[:500]) / mean_pairwise_distance(self.test_images[:500]),
            fid=lenet_fid(self.classifier, quantized, self.shuffled[: len(quantized)]),
        )
        if requested is not None:
            scores.agree = (probs.argmax(1) == requested).float().mean().item()
            scores.within = within_digit_diversity(quantized, requested, self.test_images, self.test_digits)
        if train is not None:
            # Equally large pools on both sides (a larger pool has nearer neighbours by chance alone).
            n = min(len(train), len(self.shuffled))
            ratio = nearest_distance(quantized, train[:n]).mean() / nearest_distance(quantized, self.shuffled[:n]).mean()
            scores.memorization = ratio.item()
        return scores


BALANCE = (0.06, 0.15)  # mode coverage: each class's share of the samples at least 0.6x and at most 1.5x its fair 10%


def report(scores: Scores) -> str:
    """The scores as the lines this script prints."""
    lines = [
        "class histogram: " + " ".join(f"{d}:{c}" for d, c in enumerate(scores.counts)),
        f"classes covered (>= 5%): {scores.covered}/10, mean confidence {scores.confidence:.3f}, "
        f"confident (p > 0.9) {scores.confident:.3f}, diversity {scores.diversity:.3f}",
    ]
    shares = scores.counts / scores.counts.sum()
    balanced = shares.min() >= BALANCE[0] and shares.max() <= BALANCE[1]
    lines.append(f"class shares: min {shares.min():.1%} (digit {shares.argmin()}), max {shares.max():.1%} (digit {shares.argmax()}); "
                 f"balanced (every digit >= {BALANCE[0]:.0%}, none > {BALANCE[1]:.0%}): {'yes' if balanced else 'no'}")
    if scores.agree is not None:
        lines.append(f"conditional: the classifier agrees with the requested digit for {scores.agree:.3f} of the samples, "
                     f"within-digit diversity {scores.within:.3f}")
    lines.append(f"LeNet FID against {scores.counts.sum()} test digits: {scores.fid:.2f}")
    if scores.memorization is not None:
        lines.append(f"memorization: mean distance to the nearest training image / to the nearest of as many "
                     f"held-out digits: {scores.memorization:.3f}")
    return "\n".join(lines)
