"""Feature statistics and the on-disk cache of real-data statistics."""

import re
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from stylegan2.data import open_dataset
from stylegan2.metrics.features import PassOptions, real_stats
from stylegan2.metrics.stats import FeatureStats, dataset_fingerprint


class ArrayDataset(torch.utils.data.Dataset):
    """uint8 images from an array, no labels."""

    def __init__(self, images: np.ndarray, name: str = "arrays") -> None:
        self.images = images
        self.name = name

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i], np.zeros(0, np.float32)


def random_images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3, 8, 8), dtype=np.uint8)


class CountingDetector(torch.nn.Module):
    """Per-channel means, counting how many images it has seen."""

    name = "counting"
    digest = "0" * 64

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def features(self, images: torch.Tensor) -> torch.Tensor:
        self.seen += images.shape[0]
        return images.to(torch.float32).mean(dim=(2, 3))


def test_mean_and_covariance_match_numpy():
    x = np.random.default_rng(0).standard_normal((50, 6)).astype(np.float32)
    stats = FeatureStats(capture_mean_cov=True)
    for batch in np.array_split(x, 7):
        stats.append(batch)
    mean, cov = stats.mean_cov()
    x64 = x.astype(np.float64)
    assert np.allclose(mean, x64.mean(axis=0), rtol=1e-12)
    assert np.allclose(cov, np.cov(x64, rowvar=False, bias=True), rtol=1e-9, atol=1e-12)


def test_max_items_truncates_the_last_batch():
    stats = FeatureStats(capture_all=True, max_items=5)
    stats.append(np.ones((3, 2)))
    stats.append(np.zeros((4, 2)))
    assert stats.is_full()
    assert stats.all_features().tolist() == [[1, 1]] * 3 + [[0, 0]] * 2


def test_real_statistics_are_computed_over_the_whole_dataset():
    images = random_images(10, seed=1)
    stats = real_stats(ArrayDataset(images), CountingDetector(), PassOptions(device=torch.device("cpu"), batch_size=4,
                       progress=False), None, capture_all=True, capture_mean_cov=False, cache_dir=None)
    assert np.allclose(stats.all_features(), images.astype(np.float64).mean(axis=(2, 3)), rtol=1e-6)


def test_cached_statistics_are_identical_and_skip_the_detector(tmp_path: Path):
    dataset = ArrayDataset(random_images(10, seed=2))
    opts = PassOptions(device=torch.device("cpu"), batch_size=4, progress=False)
    detector = CountingDetector()
    first = real_stats(dataset, detector, opts, None, capture_all=True, capture_mean_cov=True, cache_dir=tmp_path)
    second = real_stats(dataset, detector, opts, None, capture_all=True, capture_mean_cov=True, cache_dir=tmp_path)
    assert detector.seen == 10  # the second call read the cache
    assert len(list((tmp_path / "metric-stats").glob("*.npz"))) == 1
    assert np.array_equal(first.all_features(), second.all_features())
    for a, b in zip(first.mean_cov(), second.mean_cov(), strict=True):
        assert np.array_equal(a, b)


def test_cache_key_follows_dataset_content(tmp_path: Path):
    opts = PassOptions(device=torch.device("cpu"), batch_size=4, progress=False)
    detector = CountingDetector()
    for seed in (3, 4):
        real_stats(ArrayDataset(random_images(6, seed)), detector, opts, None, capture_all=True,
                   capture_mean_cov=False, cache_dir=tmp_path)
    assert detector.seen == 12
    assert len(list((tmp_path / "metric-stats").glob("*.npz"))) == 2


def test_fingerprint_changes_with_one_pixel():
    images = random_images(4, seed=5)
    changed = images.copy()
    changed[3, 0, 0, 0] ^= 1
    assert dataset_fingerprint(ArrayDataset(images)) == dataset_fingerprint(ArrayDataset(images.copy()))
    assert dataset_fingerprint(ArrayDataset(images)) != dataset_fingerprint(ArrayDataset(changed))


def test_empty_statistics_refuse_mean_cov():
    with pytest.raises(ValueError, match="no mean/covariance"):
        FeatureStats(capture_mean_cov=True).mean_cov()


def spoil_without_raw_outer(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "raw_outer"}


def spoil_with_nan(data: dict) -> dict:
    data["raw_sum"][0] = np.nan
    return data


def spoil_item_count(data: dict) -> dict:
    data["num_items"] = np.array(3)
    return data


@pytest.mark.parametrize("spoil, problem", [
    (spoil_without_raw_outer, "unreadable statistics cache (KeyError"),
    (spoil_with_nan, "raw_sum is not all finite numbers"),
    (spoil_item_count, "3 items, expected 10"),
    (None, "unreadable statistics cache"),
])
def test_a_bad_cache_is_recomputed_and_replaced(tmp_path: Path, spoil, problem):
    dataset = ArrayDataset(random_images(10, seed=6))
    opts = PassOptions(device=torch.device("cpu"), batch_size=4, progress=False)
    detector = CountingDetector()
    good = real_stats(dataset, detector, opts, None, capture_all=True, capture_mean_cov=True, cache_dir=tmp_path)
    (cache,) = (tmp_path / "metric-stats").glob("*.npz")
    if spoil is None:
        cache.write_bytes(b"PK\x03\x04 not a zip")
    else:
        with np.load(cache) as data:
            np.savez(cache, **spoil(dict(data)))
    with pytest.warns(UserWarning, match=rf"{cache.name}: .*{re.escape(problem)}.*; recomputing it"):
        again = real_stats(dataset, detector, opts, None, capture_all=True, capture_mean_cov=True, cache_dir=tmp_path)
    assert detector.seen == 20
    assert np.array_equal(good.all_features(), again.all_features())
    assert np.array_equal(FeatureStats.load(cache, True, True, num_items=10).all_features(), good.all_features())


def test_fingerprint_decoded_by_worker_processes_is_the_same(tmp_path):
    """Hashing decodes every image (slow for large datasets): workers share it, and the cache key stays the same."""
    for i in range(6):
        PIL.Image.fromarray(np.full((8, 8, 3), i * 40, np.uint8)).save(tmp_path / f"{i}.png")
    serial = dataset_fingerprint(open_dataset(tmp_path, mirror=True))
    assert dataset_fingerprint(open_dataset(tmp_path, mirror=True), num_workers=2) == serial


def test_a_later_command_finds_the_hash_by_the_files_identity_and_a_rewrite_is_seen(tmp_path, monkeypatch):
    """Hashing decoded every image once per command (minutes for a large dataset); the files' identity now finds the
    hash a command computed before, and a rewrite that keeps size and modification time (cp -p) still changes it."""
    import os

    import stylegan2.data.images as images_module

    data, index = tmp_path / "data", tmp_path / "cache" / "metric-stats"
    data.mkdir()
    for i in range(4):
        PIL.Image.fromarray(np.full((8, 8, 3), i * 40, np.uint8)).save(data / f"{i}.png")
    first = dataset_fingerprint(open_dataset(data), index_dir=index)
    assert len(list(index.glob("identity-*.txt"))) == 1

    decoded = []
    real_decode = images_module.decode_image
    monkeypatch.setattr("stylegan2.data.files.decode_image", lambda *a, **k: decoded.append(1) or real_decode(*a, **k))
    assert dataset_fingerprint(open_dataset(data), index_dir=index) == first and decoded == []  # a new command
    assert dataset_fingerprint(open_dataset(data, mirror=True), index_dir=index) != first  # other items

    stat = os.stat(data / "2.png")
    PIL.Image.fromarray(np.full((8, 8, 3), 41, np.uint8)).save(data / "2.png")  # another image, same size
    os.utime(data / "2.png", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the old modification time, as cp -p keeps
    assert (data / "2.png").stat().st_size == stat.st_size
    rewritten = dataset_fingerprint(open_dataset(data), index_dir=index)
    assert rewritten != first and decoded  # decoded again: the change time moved
    assert rewritten == dataset_fingerprint(open_dataset(data))  # the content's own hash

    monkeypatch.setattr("stylegan2.data.dataset.DECODE_VERSION", images_module.DECODE_VERSION + 1)
    decoded.clear()
    assert dataset_fingerprint(open_dataset(data), index_dir=index) == rewritten and decoded  # a new decoder hashes again
