"""What a run says at its start, and its --dry-run says for it: the data, the networks' sizes, the snapshots and the
disk they need, the setup (objective, precision, augmentation, data loading) and the metrics."""

from __future__ import annotations

import torch

from ..data import ImageDataset
from ..models import Discriminator, Generator
from ..models.mapping import LR_MULTIPLIER as MAPPING_LR_MULTIPLIER
from ..nn.layers import Conv2dLayer
from ..utils.files import free_space_short
from .config import TrainingOptions, preset_aug_rule
from .distributed import DistributedContext
from .networks import build_networks
from .progress import snapshots_due, ticks_to_go
from .snapshot import ResumeState


def run_summary(options: TrainingOptions, dataset: ImageDataset, G: Generator, D: Discriminator,
                 state: ResumeState | None, ctx: DistributedContext) -> tuple[list[str], list[str]]:
    """The run's first lines after those on its labels and resume: the data, the networks, the snapshots, the setup
    and (rank 0) the metrics; and (rank 0) its notes on the metrics and the disk."""
    size = snapshot_size(G, D)
    lines = [f"Dataset: {dataset.summary()}", parameters_summary(G, D, options.freezed),
             _snapshot_summary(size, options, state), *setup_summary(options, ctx.device.type, dataset.distinct_len)]
    if not ctx.is_main:
        return lines, []
    metrics, notes = _metrics_and_disk(options, size, snapshot_count(options, state))
    return lines + metrics, notes


def parameters_summary(G: Generator, D: Discriminator, freezed: int) -> str:
    """The networks' sizes for the run's first lines; D's counts its frozen layers (Freeze-D keeps them as buffers), named."""
    frozen = {name: sum(t.numel() for t in (layer.weight, layer.bias) if t is not None) for name, layer in D.named_modules()
              if isinstance(layer, Conv2dLayer) and not isinstance(layer.weight, torch.nn.Parameter)}
    d_size = sum(p.numel() for p in D.parameters()) + sum(frozen.values())
    line = f"G: {sum(p.numel() for p in G.parameters()):,} parameters; D: {d_size:,}"
    if frozen:
        line += f", {sum(frozen.values()):,} of them frozen (--freezed {freezed}: {', '.join(frozen)})"
    return line


def snapshot_size(G: Generator, D: Discriminator) -> int:
    """About how many bytes a snapshot of these networks takes: float32 G, G_ema and D (buffers too) and Adam's two
    moments of their parameters, and a header line per tensor."""
    states, params = [net.state_dict().values() for net in (G, G, D)], [list(net.parameters()) for net in (G, D)]
    values = sum(t.numel() for state in states for t in state) + 2 * sum(p.numel() for group in params for p in group)
    tensors = sum(len(state) for state in states) + 2 * sum(len(group) for group in params)
    return 4 * values + 130 * tensors


def snapshot_count(options: TrainingOptions, start: ResumeState | None) -> int:
    """How many snapshots the run writes from `start` (None: its beginning)."""
    start = start or ResumeState()
    ticks = max(ticks_to_go(start.cur_nimg, options.kimg, options.tick), 1)
    return snapshots_due(start.cur_tick, start.cur_tick + ticks - 1, options.snap)


def _snapshot_summary(size: int, options: TrainingOptions, start: ResumeState | None = None) -> str:
    """About how large each snapshot is (`size` bytes) and how many the run writes (from where it resumes), for its
    first lines."""
    count = snapshot_count(options, start)
    kept = min(count, options.keep_snapshots or count)
    cur_nimg = start.cur_nimg if start is not None else 0
    left = f"in {options.kimg:g} kimg" if cur_nimg == 0 else f"in the {options.kimg - cur_nimg / 1000:g} kimg left"
    every = options.tick * options.snap
    disk = f"{kept * size / 1e9:.3g} GB" + (f" (--keep-snapshots {options.keep_snapshots})" if kept < count else "")
    return (f"Snapshots: about {size / 1e6:.3g} MB each (the networks and the optimizers' state, for an exact resume), "
            f"every {every:g} kimg: about {count:,} {left}, {disk}")


def _precision_summary(precision: str, device_type: str) -> str:
    """What --precision means on this device, in words for the run's first lines."""
    what = {"fp32": "float32 throughout", "bf16": "bfloat16 in the top 4 resolutions' layers"}.get(precision)
    if what is None:
        what = "float16 in the top 4 resolutions' layers, conv_clamp 256" if device_type == "cuda" else \
            "float32 (float16 layers need CUDA; a CPU with AVX-512 BF16 or AMX runs --precision bf16)"
    return f"Precision: --precision {precision}, {what}"


def setup_summary(options: TrainingOptions, device_type: str, num_images: int | None) -> list[str]:
    """What the run chose that a user might not have typed: objective, packing, precision, augmentation (with the
    preset's reason where it picked it for this dataset's `num_images`), data loading."""
    penalties = "R1 and R2" if options.loss == "r3gan" else "R1"
    judge = f"packs of {options.pack} images" if options.pack > 1 else "one image at a time"
    if options.pack_by_class:
        judge += " of one class each"
    aug = {"ada": f"ada (p tuned toward r_t {options.target:g}, pipeline {options.augpipe}; only images drawn for a transform are touched)",
           "fixed": f"fixed p {options.p:g} (pipeline {options.augpipe})", "noaug": "none",
           "diffaug": f"DiffAugment ({options.diffaugment_policy})"}[options.aug]
    rule = preset_aug_rule(options.cfg, options.aug, num_images)
    if rule is not None:
        aug += f"; {rule}"
    mapping = "" if options.map_lrmul == MAPPING_LR_MULTIPLIER else \
        f"; mapping layers' learning-rate multiplier {options.map_lrmul:g} (--map-lrmul; NVIDIA's {MAPPING_LR_MULTIPLIER:g})"
    return [f"Objective: --loss {options.loss}, {penalties} gamma {options.gamma:g}; D judges {judge}{mapping}",
            _precision_summary(options.precision, device_type),
            f"Augmentation: {aug}",
            f"Data loading: {options.workers} worker processes (--workers); {torch.get_num_threads()} compute thread(s)"]


def disk_note(options: TrainingOptions, size: int, count: int) -> str | None:
    """Why the disk of --outdir may not hold the run's `count` snapshots of `size` bytes, or None: a full disk stops
    the run at a snapshot, hours in, so the run says it at its start. With --keep-snapshots N, N + 1 are on the disk
    at once: the oldest is deleted once the next is written."""
    keep = options.keep_snapshots
    at_once = count if not keep or count <= keep else keep + 1
    free = free_space_short(options.outdir, size * at_once)
    if free is None:
        return None
    where = f"--outdir {options.outdir}: its disk has {free / 1e6:.3g} MB free"
    if free < size:
        return (f"{where}, less than one snapshot (about {size / 1e6:.3g} MB): the run would stop at its first; free "
                "space there or choose another --outdir")
    fits = free // size
    keep_fewer = f"pass --keep-snapshots {fits - 1}, " if fits > 1 else ""
    return (f"{where}, less than the {at_once:,} snapshots the run has on it at once (about {size / 1e6:.3g} MB each): "
            f"it would stop at snapshot {fits + 1}; {keep_fewer}free space there, or choose another --outdir")


METRICS_FAIL = "they fail (and training goes on) until this is fixed: "  # before why a metric's file is missing


def metrics_summary(options: TrainingOptions) -> tuple[str, str | None]:
    """The line on the metrics each snapshot gets, and why a file they read is missing (None: none is): a file given
    (--detector, --vgg) that is not there, or one the cache dir lacks and cannot fetch; said at the start rather than
    at the first snapshot."""
    from ..metrics.calc import missing_metric_files

    line = f"Metrics: {', '.join(options.metrics)} of G_ema at each snapshot (--metrics)"
    return line, missing_metric_files(options.metrics, options.cache_dir, detector=options.detector, vgg=options.vgg)


def _metrics_and_disk(options: TrainingOptions, size: int, count: int) -> tuple[list[str], list[str]]:
    """The run's line on its metrics and its notes on them and on the disk, for `count` snapshots of `size` bytes:
    (lines, notes), as the run and its --dry-run say them."""
    lines, notes = [], []
    if options.metrics:
        line, missing = metrics_summary(options)
        lines.append(line)
        notes += [f"--metrics: {METRICS_FAIL}{missing}"] if missing is not None else []
    note = disk_note(options, size, count)
    return lines, notes + ([note] if note is not None else [])


def dry_run_summary(options: TrainingOptions, dataset: ImageDataset) -> tuple[list[str], list[str]]:
    """What the run's first lines would say of its data, metrics and disk, for --dry-run: (lines, notes). The data's
    line names the labels the run trains on: its k-means clusters, which it assigns when it starts. The networks are
    built on the meta device, for their sizes only; a continued run is counted from its start."""
    c_prior = [1 / options.clusters] * options.clusters if options.clusters else None  # shares as yet unknown
    with torch.device("meta"):
        G, D = build_networks(options, options.clusters or dataset.label_dim, dataset.resolution, dataset.num_channels,
                              c_prior, dataset.aspect)
    clusters = f"; trains on {options.clusters} label dims: k-means clusters, assigned when the run starts"
    data = f"Dataset: {dataset.summary()}{clusters if options.clusters else ''}"
    lines, notes = _metrics_and_disk(options, snapshot_size(G, D), snapshot_count(options, None))
    return [data, *lines], notes
