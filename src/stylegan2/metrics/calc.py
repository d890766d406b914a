"""`stylegan2 metrics`: evaluate a saved network against a dataset (the Python API behind the command).

Run it under torchrun to split the work across GPUs: each process takes its rank from the
environment and the features are all-gathered.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import zlib
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset

from stylegan2.data import DatasetError, open_dataset
from stylegan2.data.dataset import absolute_spec
from stylegan2.data.files import file_stamp
from stylegan2.io import load_checkpoint
from stylegan2.io.checkpoint import Checkpoint
from stylegan2.io.rosinality import estimated_w_avg_note
from stylegan2.models import Generator

from ..training.distributed import init_distributed
from ..training.launch import check_main_guard
from ..utils.notes import warn
from ..utils.progress import is_quiet
from .detectors import find_detector_file, find_vgg16_file, load_detector, load_vgg16
from .evaluate import (
    METRIC_KINDS,
    MetricSpec,
    appended_records,
    check_networks,
    check_ppl_truncation,
    compute_metric,
    metric_file,
    missing_dataset,
    parse_metric,
    reads_data,
    report_metric,
)
from .features import draws_labels
from .processes import on_local_processes
from .training_data import METRIC_FILES, recorded_metric_files, run_directory_of, training_data, training_resolution


def generator_of(ckpt: Checkpoint, path: str | os.PathLike) -> nn.Module:
    """G_ema of a loaded network file."""
    if ckpt.networks.get("G_ema") is None:
        if {"E", "G"} <= set(ckpt.networks) and not isinstance(ckpt.networks["G"], Generator):
            raise ValueError(f"{path}: a Swapping Autoencoder snapshot; these metrics score StyleGAN2 generators, "
                             "and none is defined here for swaps")
        raise ValueError(f"{path}: holds no G_ema generator")
    return ckpt.networks["G_ema"]


def open_metric_dataset(data: str, resolution: int, use_labels: bool, mirror: bool) -> Dataset:
    """The dataset as metrics read it, opened (and validated, and later fingerprinted) once per process while its
    files stay as they are: a training run scores every snapshot against it, and a notebook may rewrite it."""
    return _open_metric_dataset(absolute_spec(data), resolution, use_labels, mirror, files_signature(data))


@functools.lru_cache(maxsize=4)
def _open_metric_dataset(data: str, resolution: int, use_labels: bool, mirror: bool, signature: int) -> Dataset:
    """The dataset, opened once per settings and state of its files: `signature` (`files_signature`) is a cache key only."""
    return open_dataset(data, resolution=resolution, use_labels=use_labels, mirror=mirror)


def files_signature(data: str) -> int:
    """A hash of the names and `file_stamp`s of the files a dataset spec reads (cheap: no image is decoded), which
    changes when the files are rewritten, added or removed."""
    if data.startswith("builtin:"):
        return 0
    path = Path(data)
    if not path.exists() and ":" in data:  # file.npz:key
        path = Path(data.rpartition(":")[0])
    entries = []
    if path.is_dir():
        for folder, _, names in os.walk(path):
            for name in names:
                with contextlib.suppress(OSError):
                    entries.append((os.path.join(folder, name), file_stamp(os.path.join(folder, name))))
    else:
        with contextlib.suppress(OSError):
            entries.append((str(path), file_stamp(path)))
    return hash(tuple(sorted(entries)))


def check_image_size(G: nn.Module, dataset: Dataset, data: str, training_resolution: int | None = None) -> str | None:
    """Refuse data whose images are not G's size, e.g. square data for a 2:1 network (same shorter side).

    The dataset, opened at G's resolution, centres smaller square images on black. That is how training
    loads its data with `--resolution` (MNIST's 28 px padded to 32), so it is kept when `training_resolution`
    says the network's run loaded this data so, and a note saying so is returned; other smaller data is
    refused, since a metric would compare the generator with black-framed images.
    """
    channels, height, width = dataset.image_shape
    if channels != G.img_channels:  # the detector would see grey fakes against colour reals, or the other way round
        raise ValueError(f"{data}: images have {channels} channel{'s' * (channels > 1)} but the network makes "
                         f"{G.img_channels}; score it against data of its channels")
    expected = (getattr(G, "img_height", G.img_resolution), getattr(G, "img_width", G.img_resolution))
    if (height, width) != expected:
        raise ValueError(f"{data}: images are {width}x{height} but the network makes {expected[1]}x{expected[0]}; "
                         "score it against data of its size (stylegan2 dataset --width/--height)")
    source_height, source_width = dataset.source.load(0).shape[:2]
    if (source_height, source_width) == (height, width):
        return None
    if training_resolution == G.img_resolution:
        return (f"{data}: the {source_width}x{source_height} images are centred on black at {width}x{height}, "
                f"as the network's training run loaded them (--resolution {training_resolution})")
    raise ValueError(f"{data}: images are {source_width}x{source_height}, smaller than the network's {width}x{height}; "
                     "metrics pad them with black only for the data the network's training run padded (--resolution); "
                     f"pad them yourself with `stylegan2 dataset --source {data} --dest OUT.zip --resolution "
                     f"{G.img_resolution}`, or score against {width}x{height} images")


def needed_networks(specs: list[MetricSpec], vgg_given: bool) -> tuple[bool, bool]:
    """Whether `specs` need the feature detector, and whether NVIDIA's VGG16 (precision/recall uses the
    VGG16 when one is given, else the detector): each kind's `Network`."""
    uses_vgg16 = [METRIC_KINDS[spec.kind].network.uses_vgg16(vgg_given) for spec in specs]
    return not all(uses_vgg16), any(uses_vgg16)


def metric_files_read(specs: list[MetricSpec], vgg_given: bool) -> set[str]:
    """Which of the METRIC_FILES (`detector`, `vgg`, `cache_dir`) metrics `specs` read: the cache dir for any metric,
    the detector and the VGG16 as they need them (`needed_networks`)."""
    if not specs:
        return set()
    detector, vgg = needed_networks(specs, vgg_given)
    return {"cache_dir"} | ({"detector"} if detector else set()) | ({"vgg"} if vgg else set())


def missing_metric_files(metrics: list[str], cache_dir: str | os.PathLike | None = None, *,
                         detector: str | os.PathLike | None = None, vgg: str | os.PathLike | None = None) -> str | None:
    """Why a file that `metrics` need (as training computes them) is not at hand: `detector` or `vgg` where given
    (only checked to be there), else the cache dir's, fetched now where it can be; None when all are. A training run
    asks at its start, rather than failing at its first snapshot hours later."""
    needs_detector, needs_vgg = needed_networks([parse_metric(m) for m in metrics], vgg_given=vgg is not None)
    try:
        if needs_detector:
            find_detector_file(detector, cache_dir)
        if needs_vgg:
            find_vgg16_file(vgg, cache_dir)
    except OSError as err:  # not found, or a directory given
        return str(err)
    return None


def check_run_dir(run_dir: str | os.PathLike | None) -> None:
    """A FileNotFoundError for a `run_dir` that is no folder: records are appended to files in it."""
    if run_dir is not None and not Path(run_dir).is_dir():
        raise FileNotFoundError(f"{run_dir}: not a directory (--run-dir)")


def run_metrics(G: nn.Module, data: str | os.PathLike | None, specs: list[MetricSpec], *, mirror: bool,
                detector: str | os.PathLike | None, vgg: str | os.PathLike | None, device: torch.device, rank: int,
                world_size: int, run_dir: str | os.PathLike | None, snapshot: str | os.PathLike | None,
                cache_dir: str | os.PathLike | None, training_resolution: int | None = None,
                on_result: Callable[[int, dict], None] | None = None, **compute_kwargs) -> list[dict]:
    """Load the detectors the metrics need, compute each metric and append its record to run_dir when given.

    `training_resolution`: the resolution G's training run loaded this data at (see check_image_size).
    `data` may be None when no metric reads it (see reads_data).
    """
    check_run_dir(run_dir)
    if not isinstance(G, Generator):
        raise ValueError(f"metrics score a generator (G_ema), got {type(G).__name__}")
    labels = G.c_dim > 0 and not draws_labels(G)  # a network trained on clusters needs no labels
    error = None
    try:
        datasets: list[Dataset | None] = []  # opened first: a wrong data path is named before any detector is loaded
        for spec in specs:
            if not reads_data(spec, G):
                datasets.append(None)
                continue
            if data is None:
                raise missing_dataset(spec)
            try:
                datasets.append(open_metric_dataset(str(data), G.img_resolution, labels, mirror and not spec.full))
            except DatasetError as err:
                if not labels or " has no labels" not in str(err):
                    raise
                raise DatasetError(f"{data} has no labels, but the network is conditional ({G.c_dim} label dims); score "
                                   "it against the labelled data it was trained on (a dataset.json with its labels)") from None
            note = check_image_size(G, datasets[-1], str(data), training_resolution)
            if note is not None and rank == 0:
                warn(note)
        needs_detector, needs_vgg = needed_networks(specs, vgg_given=vgg is not None)
        feature_net = load_detector(detector, device=device, cache_dir=cache_dir) if needs_detector else None
        vgg16 = load_vgg16(vgg, device=device, cache_dir=cache_dir) if needs_vgg else None
        for spec in specs:
            check_networks(spec, feature_net, vgg16)
    except (ValueError, FileNotFoundError) as err:
        error = err
    raise_if_a_rank_failed(error, device, world_size)
    records = []
    for spec, dataset in zip(specs, datasets):
        record = compute_metric(spec, G, dataset, detector=feature_net, vgg16=vgg16, device=device, rank=rank,
                                world_size=world_size, cache_dir=cache_dir, **compute_kwargs)
        if dataset is not None:  # which data (a path from anywhere: records may be read from elsewhere)
            record.update(data=absolute_spec(data), mirror=bool(mirror and not spec.full))
        if run_dir is not None:
            try:
                report_metric(record, run_dir=run_dir, snapshot=snapshot)
            except OSError as err:  # a read-only or full run directory: the result is still printed
                warn(f"{metric_file(run_dir, spec.name)}: could not append the record "
                     f"({err.strerror or err})")
        if on_result is not None and rank == 0:
            on_result(len(records), record)
        records.append(record)
    return records


class OtherRankFailed(ValueError):
    """Another process could not prepare the metrics; that process reports why."""


class SameAsLowerRank(ValueError):
    """This process's error, with the message a lower-ranked process raised too: that one reports it."""


def raise_if_a_rank_failed(error: Exception | None, device: torch.device, world_size: int) -> None:
    """After each process prepared its share (data, detectors): raise on every process when one could not, so that
    none waits in a gather for it. A failed process raises its own error (SameAsLowerRank when a lower rank's has
    the same message: a detector missing on every machine is then reported once), the others OtherRankFailed
    naming the first that failed."""
    if world_size == 1 or not (dist.is_available() and dist.is_initialized()):
        if error is not None:
            raise error
        return
    rank = dist.get_rank()
    checksums = torch.zeros(world_size, dtype=torch.int64, device=device)  # each rank's message as a checksum; 0: none
    if error is not None:
        checksums[rank] = zlib.crc32(str(error).encode()) + 1
    dist.all_reduce(checksums)
    said = checksums.tolist()
    if error is not None:
        if said[rank] in said[:rank]:
            raise SameAsLowerRank(str(error)) from error
        raise error
    first = next((other for other, value in enumerate(said) if value), None)
    if first is not None:
        raise OtherRankFailed(f"process {first} of {world_size} could not load the data or a detector; its own message says why")


def calc_metrics(network: str | os.PathLike | nn.Module, data: str | os.PathLike | None, metrics: list[str] | str, *,
                 gpus: int = 1, mirror: bool | None = None, detector: str | os.PathLike | None = None,
                 vgg: str | os.PathLike | None = None, device: str | None = None, batch_size: int = 32,
                 num_workers: int = 2, cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
                 progress: bool = True, seed: int = 0, truncation_psi: float = 1.0,
                 run_dir: str | os.PathLike | None = None, append: bool = True,
                 on_result: Callable[[int, dict], None] | None = None) -> list[dict]:
    """Compute each named metric for a network file (or G module) against a dataset spec (None: see below).

    `_full` metrics always read the unmirrored dataset; the others mirror it when `mirror` is set.
    With `data` None, the data (and, unless `mirror` is given, the mirroring) the network file records
    it was trained on, as NVIDIA's calc_metrics.py; otherwise `mirror` defaults to off. IS and PPL of a
    network that needs no dataset labels read no data.
    Unless given, `detector`, `vgg` and `cache_dir` are those the network's training run recorded (its snapshot's
    options, or the training_options.json beside the file) for the metrics that read them, with a note; a ValueError
    names a recorded file that is gone and the option to give instead.
    Each record is appended to run_dir/metric-<name>.jsonl; run_dir None: the network file's run directory (the folder
    holding its training_options.json), as NVIDIA's calc_metrics.py, and nowhere for a module or a file elsewhere;
    `append=False` appends none. With `progress`, the files appended to are said on stderr at the end.
    `on_result(index, record)` is called in the caller's process (on rank 0 under torchrun) as each metric is done.
    Under torchrun every process takes its share (rank and world size from the environment); `gpus` > 1 starts that
    many such processes on this machine, one per GPU (NVIDIA's --gpus; `device` cpu: gloo processes), and returns
    rank 0's records: a script that calls it so must call it under `if __name__ == "__main__":`, as each process
    imports the script again. A bad metric name or option is an OptionError before anything is loaded or started.
    """
    metrics = metric_names(metrics, truncation_psi)
    check_run_dir(run_dir)  # before any process starts
    each = dict(network=network, data=data, metrics=metrics, mirror=mirror, detector=detector, vgg=vgg, device=device,
                batch_size=batch_size, num_workers=num_workers, cache_dir=cache_dir, use_cache=use_cache,
                progress=progress, seed=seed, truncation_psi=truncation_psi, run_dir=run_dir, append=append,
                on_result=on_result)
    with appended_records(records_directory(network, run_dir, append), metrics) as appended:
        if gpus > 1:  # each process makes the call on one
            check_main_guard(f"calc_metrics(gpus={gpus})")
            records = on_local_processes(gpus, _calc_metrics_here, each, device)[0]
        else:
            records = _calc_metrics_here(**each)
    if progress and not is_quiet():  # an informational line, as --quiet leaves out
        for path in appended:
            print(f"Appended to {path}", file=sys.stderr, flush=True)
    return records


def metric_names(metrics: list[str] | str, truncation_psi: float) -> list[str]:
    """The metrics named by a list or a comma-separated string ("fid50k_full,kid50k_full", as the command line takes
    them), each once (with a note for one listed twice); an OptionError for a bad name, or one `truncation_psi`
    cannot apply to."""
    if isinstance(metrics, str):
        metrics = [name.strip() for name in metrics.split(",") if name.strip()]
    if len(set(metrics)) < len(metrics):  # fid50k_full twice would take a second hour for the same number
        warn(f"{', '.join(sorted({m for m in metrics if metrics.count(m) > 1}))}: listed more than once; "
             "computed once")
        metrics = list(dict.fromkeys(metrics))
    if [name.lower() for name in metrics] == ["none"]:  # train's way to turn metrics off, a no-op here
        raise ValueError("'none' computes nothing: it turns metrics off in training; name at least one metric, "
                         "e.g. fid50k_full")
    for spec in [parse_metric(name) for name in metrics]:  # every name first: a typo is the error to fix first
        check_ppl_truncation(spec, truncation_psi)
    if not metrics:
        raise ValueError("no metrics given")
    return metrics


def records_directory(network: str | os.PathLike | nn.Module, run_dir: str | os.PathLike | None,
                      append: bool) -> str | os.PathLike | None:
    """Where calc_metrics appends its records: `run_dir`, else the network file's run directory; None with
    `append` False, or for a module or a file outside a run directory."""
    if not append:
        return None
    if run_dir is not None or isinstance(network, nn.Module):
        return run_dir
    return run_directory_of(network)


def _calc_metrics_here(network: str | os.PathLike | nn.Module, data: str | os.PathLike | None, metrics: list[str], *,
                       mirror: bool | None, detector: str | os.PathLike | None, vgg: str | os.PathLike | None,
                       device: str | None, batch_size: int, num_workers: int, cache_dir: str | os.PathLike | None,
                       use_cache: bool, progress: bool, seed: int, truncation_psi: float,
                       run_dir: str | os.PathLike | None, append: bool,
                       on_result: Callable[[int, dict], None] | None) -> list[dict]:
    """calc_metrics in this process, on its share under torchrun or one of its `gpus` processes."""
    specs = [parse_metric(name) for name in metrics]
    ctx = init_distributed(device, purpose="compute the metrics", timeout_option=None)  # torchrun's group, as training joins it
    rank = ctx.rank
    resolution = None
    if isinstance(network, nn.Module):
        G, snapshot = network, None
        if data is None and any(reads_data(spec, G) for spec in specs):
            raise ValueError("a network passed as a module does not record its training data; pass data")
    else:
        ckpt = load_checkpoint(network)
        G, snapshot = generator_of(ckpt, network), network
        detector, vgg, cache_dir = metric_files_of_run(ckpt, network, specs, detector=detector, vgg=vgg,
                                                       cache_dir=cache_dir, say=rank == 0)
        if data is None and any(reads_data(spec, G) for spec in specs):
            data, recorded_mirror = training_data(ckpt, network)
            mirror = recorded_mirror if mirror is None else mirror
            mirrored = mirror and any(not spec.full for spec in specs)  # '_full' metrics never mirror
            if rank == 0:
                warn(f"{network}: scored against {data}{', mirrored' if mirrored else ''}, the data its "
                     "training run recorded")
        if truncation_psi != 1 and "G_ema" in ckpt.w_avg_estimated and rank == 0:
            warn(estimated_w_avg_note(network))
        if data is not None:
            resolution = training_resolution(ckpt, network, os.fspath(data))
    mirror = bool(mirror)
    return run_metrics(G, data, specs, mirror=mirror, detector=detector, vgg=vgg, device=ctx.device, rank=rank,
                       world_size=ctx.world_size, run_dir=records_directory(network, run_dir, append),
                       snapshot=snapshot, cache_dir=cache_dir, training_resolution=resolution,
                       batch_size=batch_size, num_workers=num_workers, use_cache=use_cache, progress=progress,
                       seed=seed, truncation_psi=truncation_psi, on_result=on_result)


def metric_files_of_run(ckpt: Checkpoint, path: str | os.PathLike, specs: list[MetricSpec], *,
                        detector: str | os.PathLike | None, vgg: str | os.PathLike | None,
                        cache_dir: str | os.PathLike | None, say: bool) -> tuple[Any, Any, Any]:
    """(detector, vgg, cache_dir) to score a network file with: each given, else the one its training run recorded
    (`recorded_metric_files`) where the metrics read it, as the run's own metrics were computed; with a note (`say`)
    naming those taken. A taken file that is gone is a ValueError naming it and the option to give instead."""
    given = {"detector": detector, "vgg": vgg, "cache_dir": cache_dir}
    recorded, where = recorded_metric_files(ckpt, path)
    taken = {name: value for name, value in recorded.items() if given[name] is None}
    needed = metric_files_read(specs, vgg_given=(vgg or taken.get("vgg")) is not None)
    taken = {name: value for name, value in taken.items() if name in needed}
    for name, value in taken.items():
        if not os.path.exists(os.path.expanduser(value)):
            raise ValueError(f"{path}: its training run's metrics read {METRIC_FILES[name]} {value} ({where}), "
                             f"which is not found; pass {METRIC_FILES[name]} with the one to use")
    if taken and say:
        said = " and ".join(f"{METRIC_FILES[name]} {value}" for name, value in taken.items())
        warn(f"{path}: scored with {said}, as its training run recorded")
    chosen = {**given, **taken}
    return chosen["detector"], chosen["vgg"], chosen["cache_dir"]


def evaluate_for_training(metric: str, G: nn.Module, data: str | os.PathLike, *, run_dir: str | os.PathLike | None,
                          snapshot: str | os.PathLike, mirror: bool = False, device: torch.device | str = "cpu",
                          detector: str | os.PathLike | None = None, vgg: str | os.PathLike | None = None,
                          rank: int = 0, world_size: int = 1, batch_size: int = 32,
                          cache_dir: str | os.PathLike | None = None, progress: bool = False) -> dict:
    """One metric of the training G_ema at a snapshot, appended to run_dir/metric-<name>.jsonl; returns the record.

    `data` is the run's training data, read as training reads it: square images smaller than G are
    centred on black, as `--resolution` pads them. Call it on rank 0 only with the defaults, or on every
    rank with its rank and world size to split the work (run_dir may then be None on the others, which write
    nothing). G is copied, never modified.
    """
    return run_metrics(G, data, [parse_metric(metric)], mirror=mirror, detector=detector, vgg=vgg,
                       device=torch.device(device), rank=rank, world_size=world_size, run_dir=run_dir,
                       snapshot=snapshot, cache_dir=cache_dir, training_resolution=G.img_resolution,
                       batch_size=batch_size, progress=progress)[0]
