"""The interface every dataset source implements: raw images and their labels, addressed by index.

`ImageDataset` and the dataset tool read any source through it; `open_source` picks the source for a spec.
"""

from abc import ABC, abstractmethod
from typing import Any, NamedTuple

import numpy as np


class SkippedImage(NamedTuple):
    """An image that skip_bad left out: the file, as messages name it, and why (`images.DAMAGED`, ...)."""

    where: str
    reason: str


class ImageSource(ABC):
    """Raw images and labels addressed by index."""

    name: str  # short name for run directories, e.g. "mnist"
    location: str  # what the user passed, for messages
    num_classes: int | None = None  # number of classes when known up front (else max label + 1)
    class_names: Any = None  # what the source records as its classes' names (dataset.json's "class_names"), kept as read
    skipped: tuple[SkippedImage, ...] = ()  # the images `validate(skip_bad=True)` left out, and why

    @abstractmethod
    def __len__(self) -> int:
        """Number of images."""

    @abstractmethod
    def describe(self, index: int) -> str:
        """Where image `index` lives, for messages."""

    @abstractmethod
    def load(self, index: int, *, drop_alpha: bool = False) -> np.ndarray:
        """Image `index` as uint8 [H, W, C], C = 1 or 3."""

    def load_flattened(self, index: int) -> tuple[np.ndarray, bool]:
        """`load(index, drop_alpha=True)`, and whether it dropped transparency (only image files have any)."""
        return self.load(index, drop_alpha=True), False

    @abstractmethod
    def has_color(self) -> bool:
        """Whether any image is RGB once alpha is dropped (from headers where there are files)."""

    @abstractmethod
    def validate(self, *, skip_bad: bool = False) -> tuple[int, int, int]:
        """Check that all images share one (H, W, C) and return it; with `skip_bad`, drop the images that cannot be
        used first (damaged, transparent, ...: `skipped` lists them), with a note."""

    def file_identity(self) -> str | None:
        """A cheap key of the files the images come from, which changes when any is rewritten; None where there are
        no files to decode (arrays in memory hash fast enough)."""
        return None

    @abstractmethod
    def labels(self, *, required: bool, skip_bad: bool = False) -> np.ndarray | None:
        """Labels aligned with the images: int64 [N] classes or float32 [N, D] vectors, or None when there are none.

        required: raise when the source has no labels at all. Labels that do not match the images raise,
        never drop every label; with `skip_bad`, images without a label are left out with a warning instead,
        and entries for files that are not there are ignored with one.
        """
