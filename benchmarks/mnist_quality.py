"""Do a generator's MNIST digits look like digits, of all ten classes? A classifier decides.

    python benchmarks/mnist_quality.py --network RUN/network-snapshot-....safetensors \
        --mnist ../shared/data/mnist/mnist.npz [--samples 1000] [--grid out.png]

Trains a small LeNet-style classifier on the MNIST training set once (about a minute on two
cores; cached next to --classifier), classifies `--samples` images from G_ema (seeds 0..N-1,
noise_mode const), and prints the class histogram, the number of classes covered (at least
half their fair share, i.e. 5% of the samples), the mean classifier confidence, and a diversity
ratio: the mean pairwise pixel distance between samples over that between real test digits
(a collapsed generator scores far below 1). Real test digits score about 0.99 confidence with
all 10 classes covered at about 10% each. A class-conditional G is asked for each digit in turn;
it also gets the share of samples read as the requested digit and a within-digit diversity (the
same ratio among the samples of one requested digit and real digits of that class, averaged
over the ten), which shows a generator that draws every digit but each in only one way.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn


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


def load_mnist(path: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images padded to 32x32 and scaled to [-1, 1] like the GAN's, and labels."""
    data = np.load(path)
    x = torch.from_numpy(np.pad(data[f"x_{split}"], ((0, 0), (2, 2), (2, 2)))).float().unsqueeze(1) / 127.5 - 1
    return x, torch.from_numpy(data[f"y_{split}"].astype(np.int64))


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


def train_classifier(mnist: str, path: Path) -> LeNet:
    model = LeNet()
    if path.exists():
        model.load_state_dict(load_file(str(path)))
        return model.eval()
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
    save_file(model.state_dict(), str(path))
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", required=True)
    parser.add_argument("--mnist", required=True)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--classifier", default="mnist-lenet.safetensors")
    parser.add_argument("--grid", help="also save a 10x10 grid of the first 100 samples here")
    parser.add_argument("--real", action="store_true", help="score real test digits instead (calibration)")
    parser.add_argument("--truncation-psi", type=float, default=1.0, help="sample with this truncation (default 1: none)")
    args = parser.parse_args()

    from stylegan2.io import load_network
    from stylegan2.utils.image import make_grid, save_image, to_uint8

    classifier = train_classifier(args.mnist, Path(args.classifier))
    test_images, test_digits = load_mnist(args.mnist, "test")
    requested = None
    if args.real:
        images = test_images[: args.samples]
    else:
        nets = load_network(args.network)
        G = nets.get("G_ema") or nets["G"]
        z = torch.from_numpy(np.stack([np.random.RandomState(s).randn(G.z_dim) for s in range(args.samples)])).float()
        # A class-conditional G is asked for the digits 0..9 in turn (one grid row per class).
        requested = torch.arange(args.samples) % 10 if G.c_dim == 10 else None
        c = F.one_hot(requested, 10).float() if requested is not None else torch.zeros(args.samples, G.c_dim)
        with torch.no_grad():
            images = torch.cat([G(zz, cc, truncation_psi=args.truncation_psi, noise_mode="const")
                                for zz, cc in zip(z.split(100), c.split(100))])
    with torch.no_grad():
        # Classify what would be saved to disk: quantize to 8 bits first.
        quantized = to_uint8(images).float() / 127.5 - 1
        probs = torch.cat([F.softmax(classifier(x), dim=1) for x in quantized.split(500)])
    diversity = mean_pairwise_distance(quantized[:500]) / mean_pairwise_distance(test_images[:500])
    counts = np.bincount(probs.argmax(1).numpy(), minlength=10)
    share = counts / counts.sum()
    covered = int((share >= 0.05).sum())
    confidence = probs.max(1).values.mean().item()
    print("class histogram: " + " ".join(f"{d}:{c}" for d, c in enumerate(counts)))
    print(f"classes covered (>= 5%): {covered}/10, mean confidence {confidence:.3f}, "
          f"confident (p > 0.9) {(probs.max(1).values > 0.9).float().mean().item():.3f}, diversity {diversity:.3f}")
    if not args.real and requested is not None:
        agree = (probs.argmax(1) == requested).float().mean().item()
        within = within_digit_diversity(quantized, requested, test_images, test_digits)
        print(f"conditional: the classifier agrees with the requested digit for {agree:.3f} of the samples, "
              f"within-digit diversity {within:.3f}")
    if args.grid:
        order = torch.arange(100).view(10, 10).t().reshape(-1) if not args.real and requested is not None else torch.arange(100)
        save_image(make_grid(to_uint8(images[:100][order]).numpy(), 10, 10), args.grid)


if __name__ == "__main__":
    main()
