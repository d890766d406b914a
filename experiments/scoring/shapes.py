"""The shape classifier that reads generated builtin:shapes samples: a small CNN, trained once and cached.

Shared by experiments/shapes_quality.py and experiments/shapes_oracle.py; shapes_quality.py's docstring
explains the scores built on it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from stylegan2.data.shapes import SHAPE_CLASSES, render_shape

from .classifiers import cached_classifier


class ShapeNet(nn.Module):
    """A small CNN for 32 px RGB renders; `features` is its 128-d penultimate layer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(64 * 4 * 4, 128)
        self.out = nn.Linear(128, len(SHAPE_CLASSES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc(self.conv(x).flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))


def real_renders(start: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """builtin:shapes items start..start+count-1 (seed 0, 32 px) in [-1, 1], and their classes."""
    samples = [render_shape(i, 32) for i in range(start, start + count)]
    images = torch.from_numpy(np.stack([s.image for s in samples])).float() / 127.5 - 1
    return images, torch.tensor([s.label for s in samples])


def train_classifier(path: Path) -> ShapeNet:
    """Train on renders 0..19,999 (about a minute on two cores), or load the copy cached at `path`."""
    return cached_classifier(path, ShapeNet, _fit)


def _fit(net: ShapeNet) -> None:
    images, labels = real_renders(0, 20000)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for epoch in range(4):
        for idx in torch.randperm(len(images)).split(128):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(net(images[idx]), labels[idx]).backward()
            opt.step()
    net.eval()
    test_images, test_labels = real_renders(100000, 2000)
    with torch.no_grad():
        accuracy = (net(test_images).argmax(1) == test_labels).float().mean().item()
    print(f"shape classifier: {accuracy:.3f} accuracy on 2,000 held-out renders")
