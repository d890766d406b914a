"""Feature statistics: running mean/covariance or all features, and their on-disk cache.

Real-data statistics are cached as `.npz` files (read with `allow_pickle=False`, so a cache file
cannot run code) under a key made of the dataset's content fingerprint, the detector's weights
digest and what was captured; the second run on the same data skips the feature pass.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset
from tqdm import tqdm


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
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path: Path, capture_all: bool, capture_mean_cov: bool) -> FeatureStats:
        with np.load(path, allow_pickle=False) as data:
            stats = cls(capture_all=capture_all, capture_mean_cov=capture_mean_cov, num_items=int(data["num_items"]))
            if capture_mean_cov:
                stats.raw_sum, stats.raw_outer = data["raw_sum"], data["raw_outer"]
            if capture_all:
                stats.rows = [data["all_features"]]
        stats.max_items = stats.num_items
        return stats


_fingerprints: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # dataset -> hash, computed once


def dataset_fingerprint(dataset: Dataset, progress: bool = False) -> str:
    """A hash of the dataset's content: its own `fingerprint` if it has one, else of every image and label."""
    own = getattr(dataset, "fingerprint", None)
    if own is not None:
        return str(own() if callable(own) else own)
    if dataset not in _fingerprints:
        digest = hashlib.sha256()
        for i in tqdm(range(len(dataset)), desc="hashing dataset", disable=not progress, unit="img"):
            image, label = dataset[i]
            for array in (np.ascontiguousarray(image), np.ascontiguousarray(label)):
                digest.update(str((array.dtype.str, array.shape)).encode())
                digest.update(array.tobytes())
        _fingerprints[dataset] = digest.hexdigest()
    return _fingerprints[dataset]


def stats_cache_path(cache_dir: Path, dataset: Dataset, detector_name: str, detector_digest: str,
                     progress: bool = False, **settings: object) -> Path:
    """Cache file for real-data statistics of this content, detector and capture settings."""
    key = json.dumps({"data": dataset_fingerprint(dataset, progress), "size": len(dataset), "detector": detector_digest,
                      **settings}, sort_keys=True)
    dataset_name = str(getattr(dataset, "name", "dataset")).replace(os.sep, "_")
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return cache_dir / "metric-stats" / f"{dataset_name}-{detector_name}-{digest}.npz"
