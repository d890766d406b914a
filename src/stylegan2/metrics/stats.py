"""Feature statistics: running mean/covariance or all features, and their on-disk cache.

Real-data statistics are cached as `.npz` files (read with `allow_pickle=False`, so a cache file
cannot run code) under a key made of the dataset's content fingerprint, the detector's weights
digest and what was captured; the second run on the same data skips the feature pass.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import weakref
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..utils.files import atomic_path
from ..utils.progress import progress_bar


@dataclass
class FeatureStats:
    """Accumulates features up to `max_items`: float64 sums for mean/cov and/or every row (float32)."""

    capture_all: bool = False
    capture_mean_cov: bool = False
    max_items: int | None = None
    num_items: int = 0
    raw_sum: np.ndarray | None = None     # [D] float64
    raw_outer: np.ndarray | None = None   # [D, D] float64, sum of x x^T
    rows: list[np.ndarray] = field(default_factory=list)

    def is_full(self) -> bool:
        return self.max_items is not None and self.num_items >= self.max_items

    def append(self, features: np.ndarray) -> None:
        """Add a batch [B, D], truncated to what `max_items` still allows."""
        x = np.asarray(features, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"features must be [batch, dim], got shape {x.shape}")
        if self.max_items is not None:
            x = x[:max(self.max_items - self.num_items, 0)]
        if x.shape[0] == 0:
            return
        if self.capture_all:
            self.rows.append(x)
        if self.capture_mean_cov:
            x64 = x.astype(np.float64)
            if self.raw_sum is None:
                self.raw_sum = np.zeros(x.shape[1], np.float64)
                self.raw_outer = np.zeros([x.shape[1], x.shape[1]], np.float64)
            self.raw_sum += x64.sum(axis=0)
            self.raw_outer += x64.T @ x64
        self.num_items += x.shape[0]

    @property
    def feature_dim(self) -> int | None:
        """D, the length of each feature; None before the first batch."""
        if self.raw_sum is not None:
            return int(self.raw_sum.shape[0])
        return int(self.rows[0].shape[1]) if self.rows else None

    def all_features(self) -> np.ndarray:
        """Every captured row, [num_items, D] float32."""
        if not self.capture_all:
            raise ValueError("these statistics were collected without capture_all")
        return np.concatenate(self.rows, axis=0)

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean [D] and biased (1/N) covariance [D, D] in float64, as the official FID computes them."""
        if not self.capture_mean_cov or self.num_items == 0:
            raise ValueError("these statistics hold no mean/covariance")
        mean = self.raw_sum / self.num_items
        return mean, self.raw_outer / self.num_items - np.outer(mean, mean)

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename) as a plain .npz."""
        arrays = {"num_items": np.array(self.num_items)}
        if self.capture_mean_cov:
            arrays.update(raw_sum=self.raw_sum, raw_outer=self.raw_outer)
        if self.capture_all:
            arrays["all_features"] = self.all_features()
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            np.savez(tmp, **arrays)

    @classmethod
    def load(cls, path: Path, capture_all: bool, capture_mean_cov: bool, num_items: int | None = None) -> FeatureStats:
        """Statistics saved by `save`, checked: the arrays asked for, consistent shapes, finite values and
        (when given) `num_items` items. Raises StatsCacheError for a file that fails any check."""
        try:  # opened here: np.load leaves a file it opened unclosed when the file is no zip
            with open(path, "rb") as file, np.load(file, allow_pickle=False) as data:
                arrays = {key: data[key] for key in _cache_keys(capture_all, capture_mean_cov)}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            raise StatsCacheError(f"{path}: unreadable statistics cache ({type(err).__name__}: {err})") from None
        problem = _cache_problem(arrays, num_items)
        if problem:
            raise StatsCacheError(f"{path}: bad statistics cache ({problem})")
        stats = cls(capture_all=capture_all, capture_mean_cov=capture_mean_cov, num_items=int(arrays["num_items"]))
        if capture_mean_cov:
            stats.raw_sum, stats.raw_outer = arrays["raw_sum"], arrays["raw_outer"]
        if capture_all:
            stats.rows = [arrays["all_features"]]
        stats.max_items = stats.num_items
        return stats


class StatsCacheError(ValueError):
    """A cached statistics file is unreadable or inconsistent; it is recomputed."""


def _cache_keys(capture_all: bool, capture_mean_cov: bool) -> list[str]:
    return ["num_items"] + (["raw_sum", "raw_outer"] if capture_mean_cov else []) + (["all_features"] if capture_all else [])


def _cache_problem(arrays: dict[str, np.ndarray], num_items: int | None) -> str | None:
    """What is wrong with cached arrays, or None."""
    count = arrays["num_items"]
    if count.shape != () or not np.issubdtype(count.dtype, np.integer) or int(count) <= 0:
        return "num_items is not a positive integer"
    if num_items is not None and int(count) != num_items:
        return f"{int(count)} items, expected {num_items}"
    for key, value in arrays.items():
        if not np.issubdtype(value.dtype, np.number) or not np.isfinite(value).all():
            return f"{key} is not all finite numbers"
    if "raw_sum" in arrays:
        dim = arrays["raw_sum"].shape
        if len(dim) != 1 or arrays["raw_outer"].shape != dim * 2:
            return "raw_sum and raw_outer shapes do not match"
    if "all_features" in arrays:
        features = arrays["all_features"]
        if features.ndim != 2 or features.shape[0] != int(count):
            return "all_features does not hold num_items rows"
    return None


_fingerprints: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # dataset -> hash, computed once


def dataset_fingerprint(dataset: Dataset, progress: bool = False, num_workers: int = 0,
                        index_dir: Path | None = None) -> str:
    """A hash of the dataset's content: its own `fingerprint` if it has one, else of every image and label (decoded
    by `num_workers` data-loading processes, in order).

    With `index_dir`, a dataset that has a `file_identity` (ImageDataset's: its files' sizes, times and inodes, and
    the decoder) finds the hash its files last gave there, so that a later command decodes nothing while they stay
    as they are; a rewritten file gives another identity, and the hash is computed again.
    """
    own = getattr(dataset, "fingerprint", None)
    if own is not None:
        return str(own() if callable(own) else own)
    if dataset in _fingerprints:
        return _fingerprints[dataset]
    identity = _file_identity(dataset) if index_dir is not None else None
    index = index_dir / f"identity-{identity[:32]}.txt" if identity else None
    if index is not None and (found := _read_index(index)) is not None:
        _fingerprints[dataset] = found
        return found
    digest = hashlib.sha256()
    items = torch.utils.data.DataLoader(dataset, batch_size=None, collate_fn=_as_is, num_workers=num_workers,
                                        generator=torch.Generator())  # not seeded from the caller's global RNG
    for image, label in progress_bar(items, show=progress, total=len(dataset), desc="hashing dataset", unit="img"):
        for array in (np.ascontiguousarray(image), np.ascontiguousarray(label)):
            digest.update(str((array.dtype.str, array.shape)).encode())
            digest.update(array.tobytes())
    _fingerprints[dataset] = digest.hexdigest()
    if index is not None:
        with contextlib.suppress(OSError):  # a read-only cache: the hash is computed again next time
            index.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(index) as tmp:
                tmp.write_text(_fingerprints[dataset] + "\n", encoding="ascii")
    return _fingerprints[dataset]


def _file_identity(dataset: Dataset) -> str | None:
    """The dataset's `file_identity()`, or None without one (or when a file cannot be read: decoding names it)."""
    identity = getattr(dataset, "file_identity", None)
    try:
        return identity() if callable(identity) else None
    except OSError:
        return None


def _read_index(path: Path) -> str | None:
    """The content hash an index file holds, or None when there is none (or it is not one: it is then replaced)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else None


def _as_is(item: object) -> object:
    """A data loader's collate function that leaves each item as the dataset gives it (NumPy arrays)."""
    return item


def stats_cache_path(cache_dir: Path, dataset: Dataset, detector_name: str, detector_digest: str,
                     progress: bool = False, num_workers: int = 0, **settings: object) -> Path:
    """Cache file for real-data statistics of this content, detector and capture settings."""
    fingerprint = dataset_fingerprint(dataset, progress, num_workers, index_dir=cache_dir / "metric-stats")
    key = json.dumps({"data": fingerprint, "size": len(dataset), "detector": detector_digest,
                      **settings}, sort_keys=True)
    dataset_name = str(getattr(dataset, "name", "dataset")).replace(os.sep, "_")
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return cache_dir / "metric-stats" / f"{dataset_name}-{detector_name}-{digest}.npz"
