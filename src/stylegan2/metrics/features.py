"""Feature passes over real and generated images, batched, split across ranks, with a progress bar.

Under torch.distributed each rank handles every `world_size`-th item and the features of a step
are all-gathered, so every rank ends with the same statistics, in the same order as with one
process. Without a process group (or with world_size 1) the gathering is a no-op.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..utils.files import remove_stale_temps
from ..utils.image import to_uint8
from ..utils.notes import warn
from ..utils.progress import progress_bar
from ..utils.rng import seeded_global_rng
from .detectors import FeatureDetector
from .stats import FeatureStats, StatsCacheError, stats_cache_path

Extractor = Callable[[torch.Tensor], torch.Tensor]  # uint8 [N, 3, H, W] -> features [N, D]


@dataclass
class PassOptions:
    """How a feature pass runs: device, batch size, ranks, progress display and data loading."""

    device: torch.device
    batch_size: int = 32
    rank: int = 0
    world_size: int = 1
    progress: bool = True
    num_workers: int = 0
    seed: int = 0


def gather_rows(x: torch.Tensor, world_size: int) -> torch.Tensor:
    """Concatenate every rank's [B, ...] batch interleaved by item ([B * world_size, ...]); identity alone."""
    if world_size == 1 or not (dist.is_available() and dist.is_initialized()):
        return x
    parts = [torch.empty_like(x) for _ in range(world_size)]
    dist.all_gather(parts, x.contiguous())
    return torch.stack(parts, dim=1).flatten(0, 1)  # item i of rank r -> position i * world_size + r


@contextlib.contextmanager
def exact_float32() -> Iterator[None]:
    """Turn off TF32 (cuDNN uses it for float32 convolutions by default), as the official metric scripts do."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def all_ranks_agree(flag: bool, opts: PassOptions) -> bool:
    """True only if `flag` is true on every rank (so ranks never split between cache and compute)."""
    if opts.world_size == 1 or not (dist.is_available() and dist.is_initialized()):
        return flag
    value = torch.tensor([float(flag)], device=opts.device)
    dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return bool(value.item())


def to_three_channels(images: torch.Tensor) -> torch.Tensor:
    """Repeat grayscale [N, 1, H, W] to [N, 3, H, W], as the detectors expect."""
    return images.repeat(1, 3, 1, 1) if images.shape[1] == 1 else images


def generator_images(G: nn.Module, z: torch.Tensor, c: torch.Tensor, truncation_psi: float,
                     noise_mode: str) -> torch.Tensor:
    """G's float output in about [-1, 1] -> uint8 [N, C, H, W], rounded as the official code does."""
    img = G(z, c, truncation_psi=truncation_psi, noise_mode=noise_mode)
    return to_uint8(img)


def draws_labels(G: nn.Module) -> bool:
    """Whether G was trained on clusters (`--clusters`) and so draws its own labels; any G-like module is accepted."""
    return bool(getattr(getattr(G, "mapping", None), "draws_labels", False))


def random_labels(dataset: Dataset, c_dim: int, n: int, rng: np.random.Generator) -> torch.Tensor:
    """Labels of `n` random dataset items ([n, c_dim]; [n, 0] for unconditional networks)."""
    if c_dim == 0:
        return torch.zeros([n, 0])
    get_label = getattr(dataset, "get_label", lambda i: dataset[i][1])  # skips decoding the image when it can
    labels = [np.asarray(get_label(int(i)), np.float32) for i in rng.integers(len(dataset), size=n)]
    return torch.from_numpy(np.stack(labels))


def dataset_features(dataset: Dataset, extract: Extractor, opts: PassOptions, stats: FeatureStats,
                     desc: str) -> FeatureStats:
    """Run `extract` (uint8 [N, 3, H, W] -> [N, D]) over the first `stats.max_items` dataset items."""
    num_items = stats.max_items
    ws = opts.world_size
    share = [(i * ws + opts.rank) % num_items for i in range((num_items - 1) // ws + 1)]  # equal length on every rank
    loader = DataLoader(dataset, batch_size=opts.batch_size, sampler=share, num_workers=opts.num_workers,
                        generator=torch.Generator())  # its workers' seeds from here: the caller's global RNG stays as it was
    with progress_bar(show=opts.progress and opts.rank == 0, total=num_items, desc=desc, unit="img") as bar:
        for images, _labels in loader:
            images = to_three_channels(torch.as_tensor(images).to(opts.device))
            features = gather_rows(extract(images), ws)
            before = stats.num_items
            stats.append(features.cpu().numpy())
            bar.update(stats.num_items - before)
    return stats


def generated_features(G: nn.Module, dataset: Dataset, extract: Extractor, opts: PassOptions, stats: FeatureStats,
                       desc: str, truncation_psi: float = 1.0, noise_mode: str = "random") -> FeatureStats:
    """Generate images with G (labels drawn from the dataset) until `stats` holds `max_items` features."""
    gen = torch.Generator(device=opts.device).manual_seed(opts.seed * 65536 + opts.rank)
    rng = np.random.default_rng([opts.seed, opts.rank])
    noise_seed = int(np.random.SeedSequence([opts.seed, opts.rank, 1]).generate_state(1)[0])  # not z's stream
    with seeded_global_rng(opts.device, noise_seed), \
            progress_bar(show=opts.progress and opts.rank == 0, total=stats.max_items, desc=desc, unit="img") as bar:
        while not stats.is_full():
            z = torch.randn([opts.batch_size, G.z_dim], generator=gen, device=opts.device)
            # A network trained on clusters draws its own (None); others take labels of dataset items.
            c = None if draws_labels(G) else random_labels(dataset, G.c_dim, opts.batch_size, rng).to(opts.device)
            images = to_three_channels(generator_images(G, z, c, truncation_psi, noise_mode))
            features = gather_rows(extract(images), opts.world_size)
            before = stats.num_items
            stats.append(features.cpu().numpy())
            bar.update(stats.num_items - before)
    return stats


def _load_cached(path: Path, capture_all: bool, capture_mean_cov: bool, num_items: int) -> FeatureStats | None:
    """Cached statistics, or None when there are none or the file is bad (then it is recomputed and replaced)."""
    if not path.is_file():
        return None
    try:
        return FeatureStats.load(path, capture_all=capture_all, capture_mean_cov=capture_mean_cov, num_items=num_items)
    except StatsCacheError as err:
        warn(f"{err}; recomputing it")
        return None


def real_count(dataset: Dataset, max_items: int | None) -> int:
    """How many real images a pass reads: the whole dataset, or its first `max_items`."""
    return len(dataset) if max_items is None else min(len(dataset), max_items)


@torch.no_grad()
def real_stats(dataset: Dataset, detector: FeatureDetector, opts: PassOptions, max_items: int | None,
               capture_all: bool, capture_mean_cov: bool, cache_dir: Path | None) -> FeatureStats:
    """Detector statistics of the dataset (up to `max_items` images), from the cache when present."""
    num_items = real_count(dataset, max_items)
    if num_items == 0:
        raise ValueError("the dataset is empty")
    cache_file = None
    if cache_dir is not None:
        cache_file = stats_cache_path(cache_dir, dataset, detector.name, detector.digest,
                                      progress=opts.progress and opts.rank == 0, num_workers=opts.num_workers, num_items=num_items,
                                      capture_all=capture_all, capture_mean_cov=capture_mean_cov,
                                      detector_kind=type(detector).__name__)
        remove_stale_temps(cache_file.parent, legacy_names=True)  # left by a command killed while it wrote statistics
        cached = _load_cached(cache_file, capture_all, capture_mean_cov, num_items)
        if all_ranks_agree(cached is not None, opts):
            return cached
    stats = FeatureStats(capture_all=capture_all, capture_mean_cov=capture_mean_cov, max_items=num_items)
    dataset_features(dataset, detector.features, opts, stats, desc=f"{detector.name} real")
    if cache_file is not None and opts.rank == 0:
        try:
            stats.save(cache_file)
        except OSError as err:  # a full or read-only cache: the statistics only cost this pass again next time
            fix = (f"remove the directory {cache_file} that stands in the file's place" if cache_file.is_dir() else
                   "free space there")
            warn(f"could not keep the real images' statistics in {cache_file.parent} ({err.strerror or err}); they are "
                 f"computed again next time: {fix}, or choose another cache ($STYLEGAN2_CACHE; `stylegan2 metrics --cache-dir`)")
    return stats


@torch.no_grad()
def fake_stats(G: nn.Module, dataset: Dataset, extract: Extractor, opts: PassOptions, num_items: int, capture_all: bool,
               capture_mean_cov: bool, desc: str, truncation_psi: float = 1.0,
               noise_mode: str = "random") -> FeatureStats:
    """Statistics of `extract` applied to `num_items` generated images."""
    stats = FeatureStats(capture_all=capture_all, capture_mean_cov=capture_mean_cov, max_items=num_items)
    return generated_features(G, dataset, extract, opts, stats, desc, truncation_psi, noise_mode)
