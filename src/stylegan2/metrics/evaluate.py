"""Metric names and the table of their kinds, running one metric on a generator, and the `metric-<name>.jsonl` records.

Official names (StyleGAN2-ADA) and their sample counts:
  fid50k_full  FID, 50k generated vs. all real images (unmirrored)
  kid50k_full  KID, 50k generated vs. up to 1M real, 100 subsets of 1000
  pr50k3_full  precision/recall, k=3, 50k generated vs. up to 200k real (VGG16 features)
  is50k        Inception Score, 50k generated, 10 splits
  ppl2_wend    PPL in W, path ends, no crop, 50k paths
  fid50k, kid50k, pr50k3   legacy: 50k real, mirrored dataset if --mirror
  ppl_zfull, ppl_wfull, ppl_zend, ppl_wend   legacy PPL with the face crop
Quick variants follow the same pattern with another count: fid10k, fid2k_full, kid10k_full,
pr10k3_full, is10k, ...
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import re
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset

from ..data.dataset import label_size_mismatch
from ..training.distributed import is_first_process
from ..utils.errors import OptionError
from ..utils.files import append_line
from ..utils.notes import warn
from ..utils.text import format_time
from .detectors import (
    VGG16_URL,
    CustomDetector,
    FeatureDetector,
    NvidiaScriptDetector,
    default_cache_dir,
    load_detector,
    no_class_probabilities,
)
from .features import PassOptions, draws_labels, exact_float32, fake_stats, real_count, real_stats
from .kinds import MetricKind, MetricSpec, Network, generated_only_spec, path_length_spec, sampled_spec
from .ppl import path_lengths
from .scores import (
    KID_SUBSET_SIZE,
    check_feature_counts,
    check_neighbourhood_counts,
    frechet_distance,
    inception_score,
    kernel_distance,
    perceptual_path_length,
    precision_recall,
)
from .stats import FeatureStats

PRIMARY_METRICS = ("fid50k_full", "kid50k_full", "pr50k3_full", "ppl2_wend", "is50k")
"""The metrics of NVIDIA's StyleGAN2-ADA paper, as their calc_metrics.py names them."""
LEGACY_METRICS = ("fid50k", "kid50k", "pr50k3", "ppl_zfull", "ppl_wfull", "ppl_zend", "ppl_wend")
"""The metrics of the original StyleGAN and StyleGAN2 papers (mirrored data, end-point PPL)."""


def reads_data(spec: MetricSpec, G: nn.Module) -> bool:
    """FID, KID and precision/recall compare with real images; IS and PPL read the dataset only for the labels a
    conditional G is given (a network trained on clusters draws its own)."""
    return METRIC_KINDS[spec.kind].reads_real_images or (G.c_dim > 0 and not draws_labels(G))


def missing_dataset(spec: MetricSpec) -> ValueError:
    """The error for a metric that needs a dataset (real images, or a conditional G's labels) and was given none."""
    return ValueError(f"{spec.name} needs a dataset: its real images, or the labels of a conditional network; pass data")


def check_ppl_truncation(spec: MetricSpec, truncation_psi: float) -> None:
    """Refuse truncation for PPL, which NVIDIA defines without it (it would be silently ignored): a conflict of the
    options themselves (OptionError), whatever the network."""
    if not METRIC_KINDS[spec.kind].truncated and truncation_psi != 1:
        raise OptionError(f"{spec.name}: path length is measured without truncation, as NVIDIA's PPL is; leave out "
                          f"--trunc {truncation_psi:g}, or score {spec.name} in a command of its own")


def check_networks(spec: MetricSpec, detector: FeatureDetector | None, vgg16: NvidiaScriptDetector | None) -> None:
    """Refuse, before any work, a metric whose networks are missing (PPL without VGG16, IS without class scores)."""
    network = METRIC_KINDS[spec.kind].network
    if network is Network.VGG16 and vgg16 is None:
        raise ValueError(f"{spec.name} needs NVIDIA's VGG16 LPIPS network: pass --vgg vgg16.pt or put vgg16.pt "
                         f"in {default_cache_dir()} (download: {VGG16_URL})")
    if network is Network.CLASSIFIER and detector is not None and not detector.gives_class_probabilities:
        raise no_class_probabilities(detector.name)


def sample_count_note(spec: MetricSpec, num_real: int, feature_dim: int) -> str | None:
    """Why a score from this many real images is not the metric as published, or None.

    The reasons: fewer real images than a non-_full metric is defined with, and the kind's own
    (`MetricKind.sample_reasons`): KID subsets smaller than 1000, or for FID no more images than feature
    dimensions (their covariance is then singular, and the score mostly measures the sample count).
    """
    reasons = []
    if not spec.full and spec.max_real is not None and num_real < spec.max_real:
        reasons.append(f"{spec.name} is defined with {spec.max_real}")
    reasons += METRIC_KINDS[spec.kind].sample_reasons(spec, num_real, feature_dim)
    if not reasons:
        return None
    return (f"{spec.name}: only {num_real} real images ({'; '.join(reasons)}); "
            "compare the score only with scores from as many real images")


def _path_length_score(spec: MetricSpec, G: nn.Module, dataset: Dataset | None, vgg16: FeatureDetector,
                       opts: PassOptions, cache_dir: Path | None, truncation_psi: float) -> dict[str, float]:
    """PPL from LPIPS distances along short latent-space steps (never truncated)."""
    return {spec.name: perceptual_path_length(path_lengths(G, dataset, vgg16, spec.ppl, spec.num_gen, opts))}


def _inception_score(spec: MetricSpec, G: nn.Module, dataset: Dataset | None, detector: FeatureDetector,
                     opts: PassOptions, cache_dir: Path | None, truncation_psi: float) -> dict[str, float]:
    """IS from the detector's class probabilities of generated images (10 splits)."""
    probs = fake_stats(G, dataset, detector.class_probabilities, opts, spec.num_gen, capture_all=True,
                       capture_mean_cov=False, desc=f"{spec.name} generated", truncation_psi=truncation_psi)
    mean, std = inception_score(probs.all_features(), num_splits=10)
    return {f"{spec.name}_mean": mean, f"{spec.name}_std": std}


def _real_and_generated(spec: MetricSpec, G: nn.Module, dataset: Dataset, detector: FeatureDetector,
                        opts: PassOptions, cache_dir: Path | None, truncation_psi: float,
                        capture_all: bool) -> tuple[FeatureStats, FeatureStats]:
    """The detector's statistics of the real (cached) images, then of the generated ones: all features
    (`capture_all`) or their mean and covariance; with a note when the real images are too few."""
    capture = dict(capture_all=capture_all, capture_mean_cov=not capture_all)
    real = real_stats(dataset, detector, opts, spec.max_real, cache_dir=cache_dir, **capture)
    note = sample_count_note(spec, real.num_items, real.feature_dim)
    if note is not None and opts.rank == 0:
        warn(note)
    fake = fake_stats(G, dataset, detector.features, opts, spec.num_gen, desc=f"{spec.name} generated",
                      truncation_psi=truncation_psi, **capture)
    return real, fake


def _frechet_score(spec: MetricSpec, G: nn.Module, dataset: Dataset | None, detector: FeatureDetector,
                   opts: PassOptions, cache_dir: Path | None, truncation_psi: float) -> dict[str, float]:
    """FID between the real and generated features' means and covariances."""
    check_feature_counts("FID", real_count(dataset, spec.max_real), spec.num_gen)
    real, fake = _real_and_generated(spec, G, dataset, detector, opts, cache_dir, truncation_psi, capture_all=False)
    return {spec.name: frechet_distance(*fake.mean_cov(), *real.mean_cov())}


def _kernel_score(spec: MetricSpec, G: nn.Module, dataset: Dataset | None, detector: FeatureDetector,
                  opts: PassOptions, cache_dir: Path | None, truncation_psi: float) -> dict[str, float]:
    """KID between the real and generated features (subsets drawn from the metric's seed)."""
    check_feature_counts("KID", real_count(dataset, spec.max_real), spec.num_gen)
    real, fake = _real_and_generated(spec, G, dataset, detector, opts, cache_dir, truncation_psi, capture_all=True)
    rng = np.random.default_rng(opts.seed)
    return {spec.name: kernel_distance(real.all_features(), fake.all_features(), rng=rng)}


def _precision_recall_score(spec: MetricSpec, G: nn.Module, dataset: Dataset | None, detector: FeatureDetector,
                            opts: PassOptions, cache_dir: Path | None, truncation_psi: float) -> dict[str, float]:
    """Precision and recall of the k-nearest-neighbour manifolds of the real and generated features."""
    check_neighbourhood_counts(spec.nhood_size, real_count(dataset, spec.max_real), spec.num_gen)
    real, fake = _real_and_generated(spec, G, dataset, detector, opts, cache_dir, truncation_psi, capture_all=True)
    dtype = torch.float64 if opts.device.type == "cpu" else torch.float32
    precision, recall = precision_recall(real.all_features(), fake.all_features(), k=spec.nhood_size,
                                         device=opts.device, dtype=dtype)
    return {f"{spec.name}_precision": precision, f"{spec.name}_recall": recall}


def _kid_subset_reasons(spec: MetricSpec, num_real: int, feature_dim: int) -> list[str]:
    """KID is defined with subsets of 1000 images."""
    subset_size = min(num_real, spec.num_gen, KID_SUBSET_SIZE)
    return [f"KID subsets hold {subset_size} instead of {KID_SUBSET_SIZE}"] if subset_size < KID_SUBSET_SIZE else []


def _singular_covariance_reasons(spec: MetricSpec, num_real: int, feature_dim: int) -> list[str]:
    """FID from no more images than feature dimensions mostly measures the sample count."""
    if num_real <= feature_dim:
        return [f"no more than the {feature_dim} feature dimensions, so their covariance is singular"]
    return []


METRIC_KINDS = {kind.name: kind for kind in (
    MetricKind(name="fid", pattern=re.compile(r"fid(?P<k>\d+)k(?P<full>_full)?"),
               parse=functools.partial(sampled_spec, full_max_real=None), network=Network.DETECTOR,
               reads_real_images=True, score=_frechet_score, example="fid10k", sample_reasons=_singular_covariance_reasons),
    MetricKind(name="kid", pattern=re.compile(r"kid(?P<k>\d+)k(?P<full>_full)?"),
               parse=functools.partial(sampled_spec, full_max_real=1_000_000), network=Network.DETECTOR,
               reads_real_images=True, score=_kernel_score, example="kid10k_full", sample_reasons=_kid_subset_reasons),
    MetricKind(name="pr", pattern=re.compile(r"pr(?P<k>\d+)k(?P<nhood>\d+)(?P<full>_full)?"),
               parse=functools.partial(sampled_spec, full_max_real=200_000), network=Network.VGG16_OR_DETECTOR,
               reads_real_images=True, score=_precision_recall_score, example="pr10k3_full"),
    MetricKind(name="is", pattern=re.compile(r"is(?P<k>\d+)k"), parse=generated_only_spec,
               network=Network.CLASSIFIER, reads_real_images=False, score=_inception_score, example="is10k"),
    MetricKind(name="ppl", pattern=re.compile(r"ppl(?P<two>2)?_(?P<space>[zw])(?P<sampling>full|end)"),
               parse=path_length_spec, network=Network.VGG16, reads_real_images=False, score=_path_length_score,
               example="ppl2_zfull", truncated=False),
)}
"""Every kind of metric, by MetricSpec.kind: what parsing, loading the networks and scoring read."""


def parse_metric(name: str) -> MetricSpec:
    """The MetricSpec for an official name or a variant with another count (fid10k, kid2k_full, pr10k3_full...)."""
    for kind in METRIC_KINDS.values():
        if (spec := kind.match(name)) is not None:
            return spec
    examples = ", ".join(kind.example for kind in METRIC_KINDS.values())
    raise OptionError(f"unknown metric {name!r}; use one of {', '.join(PRIMARY_METRICS + LEGACY_METRICS)} "
                      f"or another of their kinds, such as {examples}")


def compute_metric(metric: str | MetricSpec, G: nn.Module, dataset: Dataset | None, *,
                   detector: FeatureDetector | None = None, vgg16: NvidiaScriptDetector | None = None,
                   device: torch.device | str = "cpu", batch_size: int = 32, rank: int = 0, world_size: int = 1,
                   cache_dir: str | Path | None = None, use_cache: bool = True, progress: bool = True,
                   num_workers: int = 0, seed: int = 0, truncation_psi: float = 1.0) -> dict:
    """Evaluate one metric of generator G against `dataset`; returns the official result record.

    The record is NVIDIA's `{"results": {key: value}, "metric", "total_time", "total_time_str", "num_gpus"}` plus
    how it was computed: `detector` (file name and SHA-256 prefix), `seed`, `truncation_psi` and, for FID, KID and
    precision/recall, `real_images` (how many real images were scored).
    `detector` defaults to the FID Inception file in the cache dir; `vgg16` (NVIDIA's vgg16.pt)
    is required by PPL and used by precision/recall. Pass an unmirrored dataset for '_full'
    metrics; IS and PPL of an unconditional G (or one trained on clusters) take None. Under
    torch.distributed every rank calls this with its rank and gets the same record; rank 0 alone warns.
    """
    spec = parse_metric(metric) if isinstance(metric, str) else metric
    check_ppl_truncation(spec, truncation_psi)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if dataset is None and reads_data(spec, G):
        raise missing_dataset(spec)
    if G.c_dim > 0 and not draws_labels(G) and getattr(dataset, "label_dim", G.c_dim) != G.c_dim:
        raise ValueError(f"the network is conditional with c_dim={G.c_dim}, but {label_size_mismatch(dataset, G.c_dim)}")
    device = torch.device(device)
    kind = METRIC_KINDS[spec.kind]
    uses_vgg16 = kind.network.uses_vgg16(vgg_given=vgg16 is not None)
    if kind.network is Network.VGG16_OR_DETECTOR and uses_vgg16:
        detector = vgg16  # the official precision/recall embedding
    elif kind.network is Network.VGG16_OR_DETECTOR and rank == 0:  # notes are said once, by rank 0
        warn(f"{spec.name}: no VGG16 file given, so precision/recall uses the FID detector's features; "
             "the official metric uses vgg16.pt (--vgg), so these numbers are not comparable with "
             "published ones")
    if detector is None and kind.network is not Network.VGG16:
        detector = load_detector(None, device=device, cache_dir=cache_dir)
    check_networks(spec, detector, vgg16)
    if kind.network in (Network.DETECTOR, Network.CLASSIFIER) and isinstance(detector, CustomDetector) and rank == 0:
        warn(f"{spec.name}: computed with {detector.name}, a feature network other than the FID Inception; "
             "not comparable with published numbers")
    used = vgg16 if kind.network is Network.VGG16 else detector
    cache = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) if use_cache else None
    opts = PassOptions(device=device, batch_size=batch_size, rank=rank, world_size=world_size, progress=progress,
                       num_workers=num_workers, seed=seed)
    G = copy.deepcopy(G).eval().requires_grad_(False).to(device)  # the caller's (training) G stays as it was
    start = time.time()
    with exact_float32():
        results = kind.score(spec, G, dataset, used, opts, cache, truncation_psi)
    total_time = time.time() - start
    scored = {"real_images": real_count(dataset, spec.max_real)} if kind.reads_real_images else {}
    return dict(results=results, metric=spec.name, total_time=total_time, total_time_str=format_time(total_time),
                num_gpus=world_size, detector=f"{used.name} {used.digest[:16]}", seed=seed,  # ours: how it was computed
                truncation_psi=truncation_psi, **scored)


def report_metric(record: dict, run_dir: str | Path | None = None, snapshot: str | Path | None = None) -> str:
    """Append the record (plus `snapshot_pkl`, relative to run_dir, and `timestamp`) to run_dir/metric-<name>.jsonl.

    Returns the JSON line. Under torch.distributed only rank 0 writes.
    """
    if run_dir is not None and snapshot is not None:
        snapshot = Path(os.path.relpath(snapshot, run_dir)).as_posix()
    line = json.dumps(dict(record, snapshot_pkl=None if snapshot is None else str(snapshot), timestamp=time.time()))
    is_leader = not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0
    if run_dir is not None and is_leader:
        append_line(metric_file(run_dir, record["metric"]), line)
    return line


def metric_file(run_dir: str | os.PathLike, metric: str) -> Path:
    """The file a metric's records are appended to, as NVIDIA names it: run_dir/metric-<name>.jsonl."""
    return Path(run_dir) / f"metric-{metric}.jsonl"


@contextlib.contextmanager
def appended_records(run_dir: str | os.PathLike | None, metrics: list[str]) -> Iterator[list[Path]]:
    """The metric files of `metrics` in run_dir that grow inside the block, sorted, listed as it ends (by any process:
    under --gpus other processes append them); on the first process only (RANK 0, or none), which says it for all.
    A record that could not be appended is not listed."""
    appended: list[Path] = []
    paths = sorted({metric_file(run_dir, name) for name in metrics}) if run_dir is not None else []
    sizes = [_size(path) for path in paths]
    yield appended
    if is_first_process():
        appended.extend(path for path, size in zip(paths, sizes) if _size(path) > size)


def _size(path: Path) -> int:
    """A file's size, 0 while there is none."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


# Column widths that hold the official names and values (pr50k3_full_precision, -1.23457e-05), so that rows printed
# as each metric finishes line up; a longer cell widens its column.
RESULT_COLUMNS = (("metric", 14), ("result", 22), ("value", 12), ("time", 0))


def format_results(records: list[dict], header: bool = True) -> str:
    """A plain-text table of result records: one row per value, with the time each metric took."""
    rows = [(r["metric"], key, f"{value:.6g}", r["total_time_str"])
            for r in records for key, value in r["results"].items()]
    if header:
        rows.insert(0, tuple(name for name, _ in RESULT_COLUMNS))
    widths = [max([width, *(len(row[i]) for row in rows)]) for i, (_, width) in enumerate(RESULT_COLUMNS)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)
