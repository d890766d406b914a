"""Training options: the official StyleGAN2-ADA presets (`--cfg`), a CPU preset, and overrides."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import numbers
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from ..data.dataset import absolute_spec
from ..models.aspect import MAX_RESOLUTION
from ..models.mapping import LR_MULTIPLIER as MAPPING_LR_MULTIPLIER
from ..utils.errors import OptionError
from ..utils.notes import warn
from ..utils.text import word_list
from .ada import AugmentConfig
from .diffaugment import DEFAULT_POLICY, parse_policy
from .freezing import freezed_without_resume
from .loss import LOSSES
from .rundir import check_outdir_outside_data

# What the layers of the top 4 resolutions compute in (--precision): NVIDIA's mixed precision (float16
# with conv_clamp 256, on CUDA; float32 elsewhere), bfloat16 (float32's range, no clamp; fast on CUDA and on
# CPUs with AVX-512 BF16 or AMX, see docs/performance.md), or float32 throughout (NVIDIA's --fp32).
PRECISIONS = ("fp16", "bf16", "fp32")
NVIDIA_SNAP = 50  # ticks between snapshots in NVIDIA's train.py (--snap)
NVIDIA_WORKERS = 3  # data-loader processes in NVIDIA's train.py (--workers): the most auto_workers picks
DEFAULT_RUNS_DIR = "training-runs"  # where both trainers create run directories (--outdir)


@dataclass(frozen=True)
class Preset:
    """A base configuration, as in the official train.py (`ref_gpus` is the GPU count it assumes)."""

    ref_gpus: int
    kimg: float
    batch: int
    mbstd: int
    fmaps: float
    lrate: float
    gamma: float
    ema_kimg: float
    ema_rampup: float | None
    map: int
    z_dim: int = 512
    w_dim: int = 512
    channel_max: int = 512
    pl_weight: float = 2.0
    style_mixing_prob: float = 0.9
    d_architecture: str = "resnet"
    precision: str = "fp16"  # one of PRECISIONS
    # D judges packs of this many samples in unconditional runs (PacGAN). Conditional runs keep
    # one sample per D input, since the projection head checks each image against its own label;
    # their R1 gamma is `gamma * pack`, the same total weight.
    pack: int = 1
    loss: str = "stylegan2"  # training objective, a key of LOSSES
    # Unconditional runs train on this many k-means clusters of the images as classes (0: off);
    # see data/clusters.py. Like --cond, it drops the packing.
    clusters: int = 0
    # The mapping layers' learning-rate multiplier in runs on clusters (measured there only: other
    # runs keep NVIDIA's fixed multiplier).
    cluster_map_lrmul: float = MAPPING_LR_MULTIPLIER
    snap: int = NVIDIA_SNAP  # ticks between snapshots (--snap)
    # Datasets of at least this many images train without augmentation (None: ADA on any dataset,
    # as official). ADA guards a D that sees each image many times; on a large dataset at small
    # compute its overfitting heuristic fires while G is still poor and only slows training.
    noaug_min_images: int | None = None

    @property
    def channel_base(self) -> int:
        """--cbase: NVIDIA's `fmaps` is a fraction of 32768 channels."""
        return int(self.fmaps * 32768)


PRESETS: dict[str, Preset] = {
    # 'auto' is filled in from the resolution and GPU count by `auto_preset`.
    "stylegan2": Preset(ref_gpus=8, kimg=25000, batch=32, mbstd=4, fmaps=1, lrate=0.002, gamma=10, ema_kimg=10, ema_rampup=None, map=8),
    "paper256": Preset(ref_gpus=8, kimg=25000, batch=64, mbstd=8, fmaps=0.5, lrate=0.0025, gamma=1, ema_kimg=20, ema_rampup=None, map=8),
    "paper512": Preset(ref_gpus=8, kimg=25000, batch=64, mbstd=8, fmaps=1, lrate=0.0025, gamma=0.5, ema_kimg=20, ema_rampup=None, map=8),
    "paper1024": Preset(ref_gpus=8, kimg=25000, batch=32, mbstd=4, fmaps=1, lrate=0.002, gamma=2, ema_kimg=10, ema_rampup=None, map=8),
    "cifar": Preset(ref_gpus=2, kimg=100000, batch=64, mbstd=32, fmaps=1, lrate=0.0025, gamma=0.01, ema_kimg=500, ema_rampup=0.05, map=2,
                    pl_weight=0.0, style_mixing_prob=0.0, d_architecture="orig"),
    # Sized for a 2-core CPU at 32 px: narrow networks, no path-length term or style mixing, short
    # EMA, twice the official learning rate. Unlabeled runs train on 100 k-means clusters of the
    # images as classes (self-conditioning, not in the official recipe), which covers the modes an
    # unconditional run drops at this compute; with --clusters 0 a D that judges packs of 4 samples
    # (PacGAN) stops the early collapse instead. On clusters, the mapping layers learn 10x faster than
    # NVIDIA's (G learns to draw each cluster sooner). Datasets of noaug_min_images or more (each image
    # seen at most 10 times in the preset's 200 kimg) train without ADA. How each choice was measured:
    # docs/experiments/mnist-cpu.md and docs/experiments/unconditional.md. A snapshot every 5 ticks
    # (20 kimg): NVIDIA's 50 would write the first one at the end of the preset's whole run.
    "cpu": Preset(ref_gpus=1, kimg=200, batch=32, mbstd=4, fmaps=0.0625, lrate=0.005, gamma=0.25, ema_kimg=2, ema_rampup=0.05, map=2,
                  z_dim=128, w_dim=128, channel_max=64, pl_weight=0.0, style_mixing_prob=0.0, precision="fp32", pack=4, clusters=100,
                  cluster_map_lrmul=0.1, noaug_min_images=20_000, snap=5),
}
CFG_NAMES = ("auto", *PRESETS)


def check_keep_snapshots(keep: int) -> None:
    """--keep-snapshots: 0 (every snapshot stays) or how many of the newest stay."""
    if not isinstance(keep, numbers.Integral) or keep < 0:
        raise OptionError(f"--keep-snapshots must be 0 (keep all) or how many of the newest snapshots to keep, got {keep!r}")


def apply_overrides(options: Any, overrides: dict[str, Any], kind: str) -> None:
    """Set the options the user gave (None means not given) on a preset-filled options dataclass."""
    for key, value in overrides.items():
        if value is None:
            continue
        if not hasattr(options, key):
            raise ValueError(f"unknown {kind} {key!r}")
        setattr(options, key, value)


def check_numbers(options: Any, positive: Sequence[str] = (), non_negative: Sequence[str] = ()) -> None:
    """Refuse, naming the option, a value of `positive` not above 0 or of `non_negative` below 0; NaN and infinity
    fail too (options set from Python, or by overrides, may hold them)."""
    for name in (*positive, *non_negative):
        value = getattr(options, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):  # "1" from a config file, say
            raise OptionError(f"--{name.replace('_', '-')} must be a number, got {value!r}")
        above_low = value > 0 if name in positive else value >= 0  # NaN fails every comparison
        if not (above_low and value < math.inf):
            rule = "a positive number" if name in positive else "a number >= 0"
            raise OptionError(f"--{name.replace('_', '-')} must be {rule}, got {value}")


def auto_preset(resolution: int, num_gpus: int) -> Preset:
    """The official 'auto' heuristic: batch, gamma and EMA scaled to resolution and GPU count."""
    batch = max(min(num_gpus * min(4096 // resolution, 32), 64), num_gpus)
    return Preset(
        ref_gpus=num_gpus, kimg=25000, batch=batch, mbstd=min(batch // num_gpus, 4),
        fmaps=1 if resolution >= 512 else 0.5, lrate=0.002 if resolution >= 1024 else 0.0025,
        gamma=0.0002 * resolution**2 / batch, ema_kimg=batch * 10 / 32, ema_rampup=0.05, map=2,
    )


# A continued run's `started_from` when its snapshot was written before runs recorded it (and not by a run's first
# start from new weights): unknown, which `--resume auto` takes for whatever this job starts from.
UNRECORDED_START = "unrecorded"


@dataclass
class TrainingOptions:
    """Everything a training run depends on; saved as training_options.json in the run directory."""

    data: str
    outdir: str = DEFAULT_RUNS_DIR
    cfg: str = "auto"
    # Dataset.
    cond: bool = False
    mirror: bool = False
    max_size: int | None = None
    resolution: int | None = None
    skip_bad: bool = False
    # Schedule and batch.
    kimg: float = 25000
    batch: int = 32
    batch_gpu: int = 4
    tick: float = 4.0
    snap: int = NVIDIA_SNAP  # resolve_options takes the preset's
    keep_snapshots: int = 0  # the newest this many snapshots of the run stay, older ones are deleted (0: all stay)
    seed: int = 0
    workers: int = NVIDIA_WORKERS  # data-loader processes; resolve_options picks them from the machine unless given
    # Networks.
    z_dim: int = 512
    w_dim: int = 512
    map: int = 2
    map_lrmul: float = MAPPING_LR_MULTIPLIER  # the mapping layers' learning-rate multiplier (fixed in NVIDIA's code)
    cbase: int = 16384
    cmax: int = 512
    mbstd: int = 4
    pack: int = 1  # D judges this many samples at once (PacGAN); 1 = the official D
    pack_by_class: bool = False  # with labels, each pack holds samples of one class (collapse within a class shows)
    clusters: int = 0  # train on k-means clusters of unlabeled images as classes (self-conditioning); 0 = off
    precision: str = "fp16"  # one of PRECISIONS
    nhwc: bool = False  # channels-last memory format for the fp16 layers (CUDA), as NVIDIA's --nhwc
    nobench: bool = False  # no cuDNN benchmarking
    allow_tf32: bool = False  # CUDA may use TF32 in matmuls and convolutions; off, as in NVIDIA's training
    d_architecture: str = "resnet"
    freezed: int = 0
    # Optimization and loss.
    loss: str = "stylegan2"
    glr: float = 0.0025
    dlr: float = 0.0025
    gamma: float = 1.0
    pl_weight: float = 2.0
    style_mixing_prob: float = 0.9
    g_reg_interval: int = 4
    d_reg_interval: int = 16
    ema_kimg: float = 10.0
    ema_rampup: float | None = 0.05
    # Augmentation.
    aug: str = "ada"
    augpipe: str = "bgc"
    p: float = 0.0
    target: float = 0.6
    ada_kimg: float = 500
    diffaugment_policy: str = DEFAULT_POLICY  # DiffAugment's transforms (--aug diffaug)
    # Resume, metrics, misc.
    resume: str | None = None
    # The network file the run started from (its first --resume of a file without training state: transfer
    # learning), None for new weights, UNRECORDED_START for a run continued from a snapshot that did not record it.
    # Kept across continuations; `--resume auto` continues only a run that started where this job starts.
    started_from: str | None = None
    metrics: list[str] = field(default_factory=list)
    # The files the metrics use (`stylegan2 metrics --detector/--vgg/--cache-dir`; None: the cache dir's). Not what a
    # run trains on: `--resume auto` does not compare them.
    detector: str | None = None
    vgg: str | None = None
    cache_dir: str | None = None
    grid: tuple[int, int] = (8, 8)
    num_gpus: int = 1
    # The options the caller set (`given_options`), sorted: the run directory's name carries them (`rundir.run_desc`),
    # and a resume keeps its run's value (or the fine-tuning one) of an option only where it was not given (--freezed,
    # --ada-kimg).
    given: tuple[str, ...] = ()
    # The options a resume took from its file's networks instead of the preset because they were not given
    # (`networks.file_labels`: --clusters, --pack and the gamma that follows the pack): `--resume auto` compares them
    # only where a job gives them, since a job's preset would choose otherwise again.
    from_file: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The options as runs record them; null for the augmentation settings that the --aug trained with leaves
        unused (`AUG_OPTIONS`), so that runs that trained alike read alike."""
        return {**dataclasses.asdict(self), **{name: None for name in unused_aug_options(self.aug)}}

    @property
    def augment(self) -> AugmentConfig:
        """The augmentation the loss applies to D's inputs: --aug and its settings (AUG_SETTINGS)."""
        return AugmentConfig(mode=self.aug, **{name: getattr(self, name) for name in AUG_SETTINGS})


def auto_workers(device_type: str) -> int:
    """Data-loader processes for a device: none when training on the CPU, whose step already uses
    every core (a worker would only compete with it); else the official NVIDIA_WORKERS, fewer on a
    machine with few cores per local process."""
    if device_type == "cpu":
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    per_process = cores // max(int(os.environ.get("LOCAL_WORLD_SIZE", "1")), 1)
    return max(0, min(NVIDIA_WORKERS, per_process - 1))


MIN_IMAGES_PER_CLUSTER = 20  # a preset never splits a dataset into smaller clusters than this


def preset_clusters(spec: Preset, num_images: int | None) -> int:
    """The preset's cluster count, lowered so each cluster averages MIN_IMAGES_PER_CLUSTER images (0 below two clusters)."""
    if num_images is None or spec.clusters == 0:
        return spec.clusters
    clusters = min(spec.clusters, num_images // MIN_IMAGES_PER_CLUSTER)
    return clusters if clusters >= 2 else 0


def preset_aug(spec: Preset, num_images: int | None) -> str:
    """The preset's --aug for a dataset of `num_images` images: 'noaug' from `spec.noaug_min_images` on, else 'ada'."""
    large = spec.noaug_min_images is not None and num_images is not None and num_images >= spec.noaug_min_images
    return "noaug" if large else "ada"


def preset_aug_rule(cfg: str, aug: str, num_images: int | None) -> str | None:
    """How preset `cfg` picks --aug from the dataset's size, in words for the run's first lines; None where it uses ADA
    on any dataset, or where `aug` is not what it picks for `num_images` images (the user's --aug, which needs no reason)."""
    spec = PRESETS.get(cfg)
    if spec is None or spec.noaug_min_images is None or aug != preset_aug(spec, num_images):
        return None
    return f"the {cfg} preset uses ada below {spec.noaug_min_images:,} images and none from there on (--aug)"


# The augmentation options each --aug uses; the others it would ignore. Each is a field of both TrainingOptions and
# AugmentConfig, of the same name.
AUG_OPTIONS = {"ada": ("augpipe", "p", "target", "ada_kimg"), "fixed": ("augpipe", "p"), "noaug": (),
               "diffaug": ("diffaugment_policy",)}
AUG_SETTINGS = tuple(dict.fromkeys(name for used in AUG_OPTIONS.values() for name in used))  # every --aug's, in order


def unused_aug_options(aug: Any) -> tuple[str, ...]:
    """The augmentation options that `aug` leaves unused (none for a mode this version does not know)."""
    used = AUG_OPTIONS.get(aug) if isinstance(aug, str) else None
    return () if used is None else tuple(name for name in AUG_SETTINGS if name not in used)


def check_aug_overrides(options: TrainingOptions, overrides: dict[str, Any], num_images: int | None) -> None:
    """Refuse what NVIDIA's train.py refuses: --aug fixed without --p (it would keep p at 0: no augmentation), and
    augmentation options that the --aug given leaves unused. Where the preset, not the user, chose noaug (--cfg cpu on
    a large dataset), such options get a note (a warning) instead: the user set them without choosing an --aug."""
    if options.aug == "fixed" and overrides.get("p") is None:
        raise OptionError("--aug fixed needs --p, the augmentation probability it keeps (e.g. --p 0.2)")
    unused = [name for name in AUG_SETTINGS if overrides.get(name) is not None and name not in AUG_OPTIONS[options.aug]]
    if not unused:
        return
    flags = [f"--{name.replace('_', '-')}" for name in unused]
    them = "it" if len(unused) == 1 else "them"
    if overrides.get("aug") is None and options.aug == "noaug":  # the preset's noaug (a preset's ada is refused below)
        users = [mode for mode, used in AUG_OPTIONS.items() if set(unused) <= set(used)]  # ada first
        add = f"add --aug {users[0]}" if users else "add the --aug that uses them"
        warn(f"{word_list(flags)} {'is' if len(unused) == 1 else 'are'} left unused: the {options.cfg} preset "
             f"trains datasets of {PRESETS[options.cfg].noaug_min_images:,} images or more ({num_images:,} here) "
             f"without augmentation; {add} to use {them}")
        return
    described = []
    for flag, name in zip(flags, unused):
        modes = [mode for mode, used in AUG_OPTIONS.items() if name in used]
        described.append(f"{flag} (--aug {word_list(modes)} {'does' if len(modes) == 1 else 'do'})")
    raise OptionError(f"--aug {options.aug} does not use {word_list(described, 'or')}; drop {them} or change --aug")


def resolve_options(
    data: str,
    cfg: str,
    resolution: int,
    num_gpus: int,
    overrides: dict[str, Any],
    device_type: str | None = None,
    num_images: int | None = None,
) -> TrainingOptions:
    """Fill TrainingOptions from a preset, then apply the user's overrides (None = not given).

    `device_type` ('cpu', 'cuda', ...) is what the run trains on; it picks the data-loader workers (None: not known,
    workers as on a CPU) and, on 'cpu', notes a preset sized for GPUs.
    `num_images` (distinct images the run trains on: the dataset's, or fewer with --max-size) caps a preset's
    clusters on small datasets and picks its augmentation; a --max-size above it is refused.
    """
    if cfg not in CFG_NAMES:
        raise OptionError(f"--cfg must be one of {', '.join(CFG_NAMES)}; got {cfg!r}")
    if resolution > MAX_RESOLUTION:
        raise ValueError(f"{data}: images are {resolution} px (shorter side) but the networks go up to {MAX_RESOLUTION}; convert "
                         f"with `stylegan2 dataset --source {data} --dest OUT.zip --resolution {MAX_RESOLUTION} --transform center-crop`")
    spec = auto_preset(resolution, num_gpus) if cfg == "auto" else PRESETS[cfg]
    batch = overrides.get("batch") or spec.batch  # total over all processes, as official
    check_preset_batch(cfg, batch, num_gpus, given=bool(overrides.get("batch")),
                       fits=lambda b: resolves(resolve_options, data, cfg, resolution, num_gpus, dict(overrides, batch=b),
                                                device_type=device_type, num_images=num_images))
    # As NVIDIA's train.py: the preset's batch over the GPUs it assumes (fewer when the per-process batch is smaller),
    # or, when --batch is given, the whole per-process batch in one pass.
    per_process = max(batch // num_gpus, 1)
    batch_gpu = per_process if overrides.get("batch") else min(max(spec.batch // spec.ref_gpus, 1), per_process)
    # A preset's clusters are for unlabeled runs: --cond uses the dataset's labels instead.
    clusters = overrides.get("clusters")
    if clusters is None:
        clusters = 0 if overrides.get("cond") else preset_clusters(spec, num_images)
    # A preset's packing is for unconditional runs: labels (--cond or clusters) drop it (unless --pack
    # is given), and gamma is scaled so the total R1 weight stays the same.
    pack = 1 if (overrides.get("cond") or clusters) and overrides.get("pack") is None else spec.pack
    base = dict(
        data=data, cfg=cfg, kimg=spec.kimg, batch=batch, batch_gpu=batch_gpu, snap=spec.snap,
        z_dim=spec.z_dim, w_dim=spec.w_dim, map=spec.map, cbase=spec.channel_base, cmax=spec.channel_max,
        mbstd=spec.mbstd, glr=spec.lrate, dlr=spec.lrate, gamma=spec.gamma * spec.pack / pack, ema_kimg=spec.ema_kimg,
        ema_rampup=spec.ema_rampup, pl_weight=spec.pl_weight, style_mixing_prob=spec.style_mixing_prob,
        d_architecture=spec.d_architecture, pack=pack, precision=spec.precision, num_gpus=num_gpus, resolution=resolution,
        loss=spec.loss, clusters=clusters, workers=auto_workers(device_type or "cpu"),
        map_lrmul=spec.cluster_map_lrmul if clusters else MAPPING_LR_MULTIPLIER, aug=preset_aug(spec, num_images),
    )
    options = TrainingOptions(**base)
    apply_overrides(options, overrides, "training option")
    options.given = given_options(overrides)
    options.diffaugment_policy = ",".join(parse_policy(options.diffaugment_policy))  # as runs record it: 'color,cutout'
    with derived_batch_gpu_explained(options, overrides):
        validate_options(options)
    check_aug_overrides(options, overrides, num_images)
    check_max_size(options.max_size, num_images, data)
    if len(set(options.metrics)) < len(options.metrics):  # as `stylegan2 metrics`: a second fid50k_full, a second hour
        warn(f"--metrics {word_list(sorted({m for m in options.metrics if options.metrics.count(m) > 1}))}: listed more "
             "than once; computed once")
        options.metrics = list(dict.fromkeys(options.metrics))
    if options.freezed and not options.resume:
        warn(freezed_without_resume(options.freezed, options.resolution, options.d_architecture, options.cbase,
                                    options.cmax))
    if device_type == "cpu" and cfg != "cpu":
        cpu = PRESETS["cpu"]  # the presets' own sizes, whatever --cbase or --kimg the user gave
        warn(f"--cfg {cfg} sizes the networks (channel base {spec.channel_base:,}) and the schedule ({spec.kimg:,} kimg) "
             f"for GPUs; on the CPU, --cfg cpu is the preset to start from (channel base {cpu.channel_base:,}, "
             f"{cpu.kimg:,} kimg)")
    return options


def given_options(overrides: dict[str, Any]) -> tuple[str, ...]:
    """The options the caller set, sorted: the overrides that are not None (`stylegan2 train` passes None for each
    option not typed, so `--no-cond` counts, and a switch left alone does not)."""
    return tuple(sorted(key for key, value in overrides.items() if value is not None))


@contextlib.contextmanager
def derived_batch_gpu_explained(options: Any, overrides: dict[str, Any]) -> Iterator[None]:
    """An error about --batch-gpu the user did not give says where its value came from."""
    try:
        yield
    except ValueError as err:
        if "--batch-gpu" not in str(err) or overrides.get("batch_gpu") is not None:
            raise
        kind = OptionError if isinstance(err, OptionError) else ValueError
        raise kind(f"{err}; --batch-gpu {options.batch_gpu} comes from --batch {options.batch} over "
                   f"{options.num_gpus} process(es): pass a --batch-gpu that fits, or another --batch") from None


def check_preset_batch(cfg: str, batch: int, num_gpus: int, given: bool, fits: Callable[[int], bool]) -> None:
    """Refuse a preset's batch that does not split over the processes, naming the preset (the user gave no --batch)
    and the nearest --batch that `fits` (resolves without an error)."""
    if given or batch % num_gpus == 0:
        return
    candidates = sorted(range(num_gpus, 8 * batch + 1, num_gpus), key=lambda b: (abs(b - batch), b))
    suggestion = next((b for b in candidates if fits(b)), None)
    example = f", e.g. --batch {suggestion}" if suggestion is not None else ""
    raise OptionError(f"{num_gpus} GPUs/processes: the {cfg} preset's batch {batch} does not split over them; pass a "
                     f"--batch that does{example}, or use a power of two of them (NVIDIA's train.py takes only those)")


def resolves(resolve: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """Whether resolving options with these arguments succeeds (its notes unsaid: it is a trial)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            resolve(*args, **kwargs)
    except ValueError:
        return False
    return True


def check_max_size(max_size: int | None, num_images: int | None, data: str) -> None:
    """Refuse a --max-size (NVIDIA's --subset) above the dataset's size, as their train.py does: it would not subset."""
    if max_size is not None and num_images is not None and max_size > num_images:
        raise ValueError(f"--max-size {max_size} (NVIDIA's --subset) is more than the {num_images:,} images of {data}; "
                         f"pass 1 to {num_images}, or leave it out to train on all of them")


# The options that tell runs of one dataset and --cfg apart (a sweep's jobs in one --outdir): `--resume auto` continues
# only a run that had the same. --batch too, except under --cfg auto, which derives the batch from the GPU count (and
# gamma and the EMA from the batch): there a run on another GPU count is refused with the --batch to pass instead.
RUN_IDENTITY = ("data", "cond", "mirror", "max_size", "resolution", "seed", "loss", "glr", "dlr", "gamma", "ema_kimg",
                "aug", "augpipe", "target", "p", "diffaugment_policy", "pack", "pack_by_class", "clusters", "batch")
# Every other option, and why `--resume auto` does not compare it: each TrainingOptions field is in exactly one of the
# two (tests/training/test_option_lists.py), so that a new option is placed on purpose.
# RUN_IDENTITY options that came after runs were recorded, with what every run before them had: a record without
# one is compared as having that value. Others a record lacks are not compared (their defaults may have changed).
BEFORE_RECORDED = {"diffaugment_policy": DEFAULT_POLICY}
NOT_RUN_IDENTITY = {
    "outdir": "where the runs are searched, not what tells them apart",
    "cfg": "compared by `--resume auto` on its own (the run directory's name holds it)",
    "skip_bad": "which unreadable images are skipped is the dataset's, not the run's",
    "kimg": "a continued run may be given a longer schedule",
    "batch_gpu": "splits the same batch into passes; the steps are the same",
    "tick": "how often progress is printed",
    "snap": "how often snapshots are written",
    "keep_snapshots": "how many snapshots stay on disk",
    "workers": "data-loader processes: the machine's, not the run's",
    "z_dim": "the networks' architecture: a resume checks it against the snapshot's networks",
    "w_dim": "the networks' architecture: a resume checks it against the snapshot's networks",
    "map": "the networks' architecture: a resume checks it against the snapshot's networks",
    "map_lrmul": "the networks keep it (the mapping network's lr_multiplier)",
    "cbase": "the networks' architecture: a resume checks it against the snapshot's networks",
    "cmax": "the networks' architecture: a resume checks it against the snapshot's networks",
    "mbstd": "the networks' architecture: a resume checks it against the snapshot's networks",
    "precision": "a resume follows the command line, as NVIDIA's: the weights are the same",
    "nhwc": "a memory format: the same computation",
    "nobench": "cuDNN's kernel choice: the same computation",
    "allow_tf32": "a CUDA speed setting a continued run may change",
    "d_architecture": "the networks' architecture: a resume checks it against the snapshot's networks",
    "freezed": "a resume keeps its run's value unless given",
    "pl_weight": "set by the --cfg preset (no command-line option), so alike in the jobs of one --cfg",
    "style_mixing_prob": "set by the --cfg preset (no command-line option), so alike in the jobs of one --cfg",
    "g_reg_interval": "NVIDIA's fixed lazy-regularization interval, not a command-line option",
    "d_reg_interval": "NVIDIA's fixed lazy-regularization interval, not a command-line option",
    "ema_rampup": "set by the --cfg preset (no command-line option); fine-tuning drops it (for_transfer_learning)",
    "ada_kimg": "a resume keeps its run's value unless given, and fine-tuning changes it",
    "resume": "`--resume auto` itself, or the file a run starts from, compared as started_from",
    "started_from": "compared by `--resume auto` on its own (auto_resume.recorded_start)",
    "metrics": "how the run is scored, not what it trains",
    "detector": "how the run is scored, not what it trains",
    "vgg": "how the run is scored, not what it trains",
    "cache_dir": "how the run is scored, not what it trains",
    "grid": "the layout of the preview images",
    "num_gpus": "a run may continue on another GPU count; the batch, which --cfg auto derives from it, is compared",
    "given": "what was typed, read to tell defaults that changed between versions from real differences",
    "from_file": "which options the resume's networks decided, read to leave them out of the comparison",
}
_DERIVED_FROM_BATCH = ("batch", "gamma", "ema_kimg")  # under --cfg auto
FILE_LABEL_OPTIONS = ("clusters", "pack")  # what a resume's networks decide where not given (`networks.file_labels`)


def run_differences(options: TrainingOptions, recorded: dict[str, Any]) -> list[str]:
    """How a run's recorded training_options.json differs from `options` in RUN_IDENTITY ('--gamma 1, not --gamma 8'),
    leaving out the augmentation settings that either run's --aug does not use. The same --data may be given by
    another path to the same file, or to a copy of it (see `same_file`). A difference in an option that neither job
    typed is a default that changed between versions, and says so."""
    changed = changed_defaults(options, recorded)
    return [f"{_as_option(key, theirs)}, not {_as_option(key, getattr(options, key))}"
            f"{' (neither typed: a default that changed)' if _as_option(key, theirs) in changed else ''}"
            for key, theirs in _differing(options, recorded)]


def changed_defaults(options: TrainingOptions, recorded: dict[str, Any]) -> list[str]:
    """The options in which a run differs from `options` that neither typed, as the run had them ('--clusters 50'):
    defaults that changed between versions, so the run may be this job's. None for an older record, which does not
    say what it typed."""
    typed = recorded.get("given")
    if typed is None:
        return []
    typed = {*typed, *options.given, "data"}  # every run has its --data, which `given` leaves out
    return [_as_option(key, theirs) for key, theirs in _differing(options, recorded) if key not in typed]


def _differing(options: TrainingOptions, recorded: dict[str, Any]) -> list[tuple[str, Any]]:
    """The RUN_IDENTITY options in which a run's record differs from `options`, with the run's values (`run_differences`)."""
    unused = {*unused_aug_options(options.aug), *unused_aug_options(recorded.get("aug"))}  # null, or an old record's
    keys = tuple(key for key in RUN_IDENTITY if key not in unused)  # (a different --aug is itself a difference)
    if options.cfg == "auto" and recorded.get("batch") != options.batch:
        keys = tuple(key for key in keys if key not in _DERIVED_FROM_BATCH)
    # The options a resume takes from its file's networks where not given (`networks.file_labels`) are compared only
    # where this job gives them; a record older than `from_file` is taken to have taken them from its networks too.
    from_file = recorded.get("from_file", FILE_LABEL_OPTIONS)
    differing = []
    for key in keys:
        if key not in recorded and key not in BEFORE_RECORDED:  # written by a version without the option
            continue
        if key in from_file and key not in options.given:  # the run's network decided it
            continue
        ours, theirs = getattr(options, key), recorded.get(key, BEFORE_RECORDED.get(key))
        if key == "data" and same_file(ours, theirs):
            continue
        if theirs != ours:
            differing.append((key, theirs))
    return differing


def _as_option(key: str, value: Any) -> str:
    """An option as a command line gives it: '--gamma 8', '--cond', '--no-mirror'."""
    flag = key.replace("_", "-")
    if isinstance(value, bool):
        return f"--{flag}" if value else f"--no-{flag}"
    return f"--{flag} {value}"


def same_file(ours: Any, theirs: Any) -> bool:
    """Whether a run's recorded path (its --data, or the network it started from) names this run's: the same text or
    file, or the same file name where the recorded path is gone (moved to this job's scratch folder) or holds a file
    of the same size (a copy)."""
    if ours == theirs:
        return True
    if not isinstance(theirs, str) or not isinstance(ours, str):
        return False
    a, b = Path(os.path.expanduser(ours)), Path(os.path.expanduser(theirs))
    if a.name != b.name or not a.exists():
        return False
    try:
        return not b.exists() or os.path.samefile(a, b) or (a.is_file() and b.is_file() and a.stat().st_size == b.stat().st_size)
    except OSError:
        return False


def same_place(ours: str, theirs: str) -> bool:
    """Whether two paths (or dataset specs) name one place: the same once made absolute, or the same existing file."""
    if absolute_spec(ours) == absolute_spec(theirs):
        return True
    try:
        return os.path.samefile(os.path.expanduser(ours), os.path.expanduser(theirs))
    except (OSError, ValueError):
        return False


FINE_TUNE_ADA_KIMG = 100  # ADA's speed when fine-tuning (NVIDIA's adjustment): p adapts 5x faster than by default


def for_transfer_learning(options: TrainingOptions) -> TrainingOptions:
    """NVIDIA's fine-tuning adjustments, for a run that starts from a network's weights: no EMA ramp-up (early on it
    would shrink the half-life to a few images and replace the pretrained average by G), and ADA reacts faster
    (FINE_TUNE_ADA_KIMG). An option the caller gave (`options.given`) stays as given."""
    return dataclasses.replace(options, ema_rampup=options.ema_rampup if "ema_rampup" in options.given else None,
                               ada_kimg=options.ada_kimg if "ada_kimg" in options.given else FINE_TUNE_ADA_KIMG)


def check_batch_split(batch: int, batch_gpu: int, num_gpus: int) -> None:
    """Refuse a --batch that the processes cannot share evenly, or a --batch-gpu that does not divide each one's share
    (both trainers split their batch so)."""
    if batch % num_gpus != 0:
        raise OptionError(f"--batch {batch} must be a multiple of the number of GPUs/processes ({num_gpus})")
    per_gpu = batch // num_gpus
    if batch_gpu > per_gpu or per_gpu % batch_gpu != 0:
        raise OptionError(f"--batch-gpu {batch_gpu} must divide the per-process batch {per_gpu} (--batch / processes)")


def validate_options(o: TrainingOptions) -> None:
    """Reject inconsistent settings with a message that names the option."""
    check_batch_split(o.batch, o.batch_gpu, o.num_gpus)
    if o.pack < 1 or o.batch_gpu % o.pack != 0:
        raise OptionError(f"--pack {o.pack} must be at least 1 and divide --batch-gpu {o.batch_gpu}")
    d_batch = o.batch_gpu // o.pack  # what D sees per step
    if o.pack_by_class and (o.pack < 2 or not (o.cond or o.clusters)):
        raise OptionError("--pack-by-class needs packs (--pack 2 or more) and labels (--cond or --clusters)")
    if o.mbstd > 0 and d_batch % min(o.mbstd, d_batch) != 0:
        raise OptionError(f"--mbstd {o.mbstd} must divide the {d_batch} packs of {o.pack} D sees per step (--batch-gpu / --pack)"
                         if o.pack > 1 else f"--mbstd {o.mbstd} must divide --batch-gpu {o.batch_gpu}")
    check_numbers(o, positive=("kimg", "tick", "glr", "dlr", "ema_kimg", "map_lrmul"), non_negative=("gamma",))
    if o.resolution is not None and o.cbase < o.resolution:
        raise ValueError(f"--cbase {o.cbase} gives no channels at {o.resolution} px (channels are --cbase / resolution); "
                         f"use at least {o.resolution}")
    if o.precision not in PRECISIONS:
        raise OptionError(f"--precision must be one of {', '.join(PRECISIONS)}, got {o.precision!r}")
    if o.snap < 1:
        raise OptionError(f"--snap must be at least 1 tick, got {o.snap}")
    if o.freezed < 0:
        raise OptionError(f"--freezed must be >= 0, got {o.freezed}")
    o.augment  # AugmentConfig checks the augmentation options where they are defined (--aug, --augpipe, --p, ...)
    if o.loss not in LOSSES:
        raise OptionError(f"--loss must be one of {', '.join(LOSSES)}; got {o.loss!r}")
    if o.clusters < 0 or o.clusters == 1:
        raise OptionError(f"--clusters must be 0 (off) or at least 2, got {o.clusters}")
    if o.clusters and o.cond:
        raise OptionError(f"--clusters {o.clusters} labels the images by clusters, --cond by the dataset's labels: drop one of them")
    if o.workers < 0:
        raise OptionError(f"--workers must be >= 0, got {o.workers}")
    check_keep_snapshots(o.keep_snapshots)
    check_outdir_outside_data(o.outdir, o.data)
    if isinstance(o.metrics, str):  # iterated, 'fid50k_full' would be the metrics 'f', 'i', 'd', ...
        raise ValueError(f"metrics must be a list of metric names, got the string {o.metrics!r}; use [{o.metrics!r}]")
    if o.metrics:
        from ..metrics.evaluate import parse_metric  # the metrics package is only needed when asked for

        for name in o.metrics:
            parse_metric(name)
