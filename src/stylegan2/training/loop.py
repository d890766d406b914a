"""The StyleGAN2 training loop: phases with lazy regularization, G_ema and ADA, run by a TrainingSession (ticks, snapshots, logs)."""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..data import ImageDataset, open_dataset
from ..data.clusters import THUMBNAIL_SIZE, cluster_dataset
from ..io.channels import channel_arguments
from ..io.errors import CheckpointError
from ..io.pretrained import network_file
from ..models import Discriminator, Generator
from ..models.aspect import SQUARE, aspect_kwargs
from ..models.mapping import LR_MULTIPLIER as MAPPING_LR_MULTIPLIER
from ..models.synthesis import channel_counts
from ..nn.layers import Conv2dLayer
from ..utils.device import configure_backends
from ..utils.download import DownloadError
from ..utils.image import make_grid, save_image, to_uint8
from .ada import Augmentation, check_augment_state
from .augment_setup import build_augment
from .config import TrainingOptions, for_transfer_learning, preset_aug_rule, run_differences, validate_options
from .distributed import DistributedContext, all_reduce_mean_, broadcast_, broadcast_bytes, lost_ranks_named
from .ema import ema_beta, update_ema
from .loss import LOSSES
from .phase import Phase, adam, run_phase
from .progress import snapshots_due, ticks_to_go
from .rundir import latest_snapshot
from .session import (
    LoopHooks,
    RunFinished,
    TickReport,
    TrainingError,
    TrainingSession,
    caller_state_kept,
    check_run_unfinished,
    seed_slice,
    start_process,
)
from .signals import Terminated, interruption_said, said_in_log, sigterm_raises_once, usr1_interrupts
from .snapshot import ResumeState, finite_number, read_resume_state

AUTO_RESUME = "auto"  # --resume auto: the newest snapshot of this run under --outdir, if any; auto:FILE, else FILE


def auto_resume(resume: str | None) -> tuple[bool, str | None]:
    """(whether --resume is auto, the file that 'auto:FILE' starts from when --outdir has no snapshot of the run):
    one command line for a fine-tuning job's first start and its requeues."""
    if resume == AUTO_RESUME:
        return True, None
    if resume is not None and resume.startswith(f"{AUTO_RESUME}:"):
        return True, resume[len(AUTO_RESUME) + 1:]
    return False, None


def precision_kwargs(precision: str, nhwc: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """--precision and --nhwc as network kwargs: (the networks' fp16 layers, their blocks' dtype and memory format).

    NVIDIA's kwargs stay NVIDIA's: only bf16 adds a block argument (its layers need no conv_clamp)."""
    fp16 = {"fp32": dict(num_fp16_res=0, conv_clamp=None), "fp16": dict(num_fp16_res=4, conv_clamp=256),
            "bf16": dict(num_fp16_res=4, conv_clamp=None)}[precision]
    block = {"fp16_channels_last": True} if nhwc else {}
    return fp16, ({**block, "half_dtype": "bfloat16"} if precision == "bf16" else block)


def _run_precision(kw: dict[str, Any], options: TrainingOptions, *, blocks: str) -> dict[str, Any]:
    """A resumed network's init kwargs with this run's --precision/--nhwc: as NVIDIA's resume, which copies the
    weights into networks built from the options, precision follows the command line (the weights are the same)."""
    fp16, block = precision_kwargs(options.precision, options.nhwc)
    kw = dict(kw)
    inner = {k: v for k, v in (kw.get(blocks) or {}).items() if k not in ("fp16_channels_last", "half_dtype")}
    if blocks == "synthesis_kwargs":  # G: precision and block settings are synthesis kwargs
        kw[blocks] = {**inner, **fp16, **block}
    else:  # D: precision at the top, dtype and memory format in the blocks
        kw.update(fp16)
        kw[blocks] = {**inner, **block}
    return kw


def build_networks(
    options: TrainingOptions, c_dim: int, resolution: int, channels: int, c_prior: list[float] | None = None,
    aspect: str = SQUARE,
) -> tuple[Generator, Discriminator]:
    """Fresh G and D for the options (official kwargs layout, so snapshots load everywhere).

    `c_prior`: the share of each cluster when the labels are clusters (G then draws its own label).
    `aspect`: the dataset's ("2:1" or "1:2" for non-square images; `resolution` is then the shorter side).
    """
    fp16, block = precision_kwargs(options.precision, options.nhwc)
    G = Generator(
        z_dim=options.z_dim, c_dim=c_dim, w_dim=options.w_dim, img_resolution=resolution, img_channels=channels,
        mapping_kwargs={"num_layers": options.map, **({"c_prior": c_prior} if c_prior else {}),
                        **({"lr_multiplier": options.map_lrmul} if options.map_lrmul != MAPPING_LR_MULTIPLIER else {})},
        synthesis_kwargs={"channel_base": options.cbase, "channel_max": options.cmax, **fp16, **block, **aspect_kwargs(aspect)},
    )
    D = Discriminator(  # with --pack, D's input is `pack` images (and labels) stacked along channels
        c_dim=c_dim * options.pack, img_resolution=resolution, img_channels=channels * options.pack, architecture=options.d_architecture,
        channel_base=options.cbase, channel_max=options.cmax, **fp16,
        block_kwargs={**({"freeze_layers": options.freezed} if options.freezed else {}), **block},
        epilogue_kwargs={"mbstd_group_size": options.mbstd, **aspect_kwargs(aspect)},
    )
    return G, D


def _check_networks_fit(
    loaded: dict[str, torch.nn.Module], options: TrainingOptions, c_dim: int, resolution: int, channels: int, path: str,
    aspect: str = SQUARE, file_options: dict[str, Any] | None = None,
) -> None:
    """Refuse a file whose networks do not fit the dataset (image size, channels, labels, aspect) or --pack;
    `file_options`, the options its run recorded (a snapshot of ours), say what to pass to fit it."""
    source_G = loaded.get("G") or loaded.get("G_ema")
    if source_G is None:
        raise TrainingError(f"--resume {path}: the file holds no generator (G or G_ema), so training cannot start from it")
    if not isinstance(source_G, Generator):
        raise TrainingError(f"--resume {path}: its generator is a {type(source_G).__name__}, not a StyleGAN2 Generator; "
                            "resume a Swapping Autoencoder with `stylegan2 swapae train --resume`")
    kw = source_G.init_kwargs
    if kw["img_resolution"] != resolution or kw["img_channels"] != channels or kw["c_dim"] != c_dim:
        fixes = []
        if kw["img_resolution"] != resolution:
            fixes.append(f"resize the dataset (stylegan2 dataset --resolution {kw['img_resolution']})")
        if kw["img_channels"] != channels:
            fixes.append(f"use {kw['img_channels']}-channel images")
        if kw["c_dim"] and kw["c_dim"] != c_dim:
            fixes.append(_labels_fix(kw["c_dim"], options, file_options or {}))
        elif kw["c_dim"] != c_dim:  # the file's D packs as it did: without clusters a preset may pack otherwise
            pack = f" --pack {loaded['D'].init_kwargs['img_channels'] // kw['img_channels']}" if "D" in loaded else ""
            fixes.append(f"train without labels ({'leave out --cond' if options.cond else f'pass --clusters 0{pack}'})")
        clustered = f" ({c_dim} clusters of its images, --clusters)" if options.clusters and not options.cond else ""
        raise TrainingError(
            f"--resume {path}: the network makes {kw['img_channels']}-channel {kw['img_resolution']} px images"
            f" with {kw['c_dim']} label dims, but the dataset has {channels}-channel {resolution} px images"
            f" with {c_dim} label dims{clustered}; {', '.join(fixes)}, or pick a matching network"
        )
    if source_G.img_aspect != aspect:
        raise TrainingError(f"--resume {path}: the network makes {source_G.img_width}x{source_G.img_height} images but the "
                            f"dataset's are {aspect} (width:height); convert it with stylegan2 dataset --width/--height "
                            "or pick a matching network")
    if "D" in loaded and (d_channels := loaded["D"].init_kwargs["img_channels"]) != channels * options.pack:
        raise TrainingError(
            f"--resume {path}: its discriminator takes {d_channels}-channel input, which is --pack"
            f" {d_channels // channels} for {channels}-channel images, but --pack is {options.pack};"
            f" pass --pack {d_channels // channels}"
        )


def _labels_fix(c_dim: int, options: TrainingOptions, file_options: dict[str, Any]) -> str:
    """How to train with a file's `c_dim` labels: its run's clusters (and preset) when its options say it trained on
    clusters, else the dataset's labels or as many clusters."""
    if file_options.get("clusters") == c_dim and not file_options.get("cond"):
        cfg = file_options.get("cfg")
        preset = f" --cfg {cfg}" if isinstance(cfg, str) and cfg != options.cfg else ""
        return f"train on {c_dim} clusters as its run did (--clusters {c_dim}{preset})"
    return f"train with {c_dim} label dims (--cond with the dataset's labels, or --clusters {c_dim})"


def _networks_from_checkpoint(
    loaded: dict[str, torch.nn.Module], options: TrainingOptions, c_dim: int, resolution: int, channels: int,
    aspect: str = SQUARE,
) -> tuple[Generator, Discriminator, Generator | None]:
    """Rebuild G and D (checked by _check_networks_fit) with the checkpoint's architecture and copy its weights (transfer learning)."""
    source_G = loaded.get("G") or loaded.get("G_ema")
    G = Generator(**_run_precision(source_G.init_kwargs, options, blocks="synthesis_kwargs"))
    G.load_state_dict(source_G.state_dict())
    if "D" in loaded:
        d_kw = dict(loaded["D"].init_kwargs)
        if _frozen_layers(d_kw) != options.freezed:  # the file's kwargs stay as they were otherwise
            block = {key: value for key, value in (d_kw.get("block_kwargs") or {}).items() if key != "freeze_layers"}
            d_kw["block_kwargs"] = {**block, **({"freeze_layers": options.freezed} if options.freezed else {})}
        D = Discriminator(**_run_precision(d_kw, options, blocks="block_kwargs"))
        D.load_state_dict(loaded["D"].state_dict())
    else:  # a generator-only file (rosinality's convert_weight.py output): a new D, as wide as the file's G
        _, D = build_networks(dataclasses.replace(options, **_file_widths(G, options)[0]), c_dim, resolution, channels,
                              aspect=aspect)
    G_ema = None
    if "G_ema" in loaded:
        G_ema = Generator(**_run_precision(loaded["G_ema"].init_kwargs, options, blocks="synthesis_kwargs"))
        G_ema.load_state_dict(loaded["G_ema"].state_dict())
    return G, D, G_ema


# The options that say how new networks are built, with the flag that sets each (None: --cfg only).
ARCHITECTURE_OPTIONS = {"z_dim": None, "w_dim": None, "map": "--map", "cbase": "--cbase", "cmax": "--cmax",
                        "mbstd": "--mbstd", "d_architecture": None}


def _file_widths(G: Generator, options: TrainingOptions) -> tuple[dict[str, int], str | None]:
    """The --cbase and --cmax that give the file's G its channels ({} when the options' do), or, when none do,
    {} and its channels per resolution in words."""
    resolutions = G.synthesis.block_resolutions
    counts = {res: getattr(G.synthesis, f"b{res}").conv1.weight.shape[0] for res in resolutions}
    if counts == channel_counts(resolutions, options.cbase, options.cmax):
        return {}, None
    file_base = (G.init_kwargs.get("synthesis_kwargs") or {}).get("channel_base")
    arguments = channel_arguments(counts, [file_base] if file_base else [])
    if "channels" in arguments:  # no --cbase/--cmax gives this layout
        return {}, f"channels per resolution {', '.join(f'{res}: {ch}' for res, ch in counts.items())}"
    return {"cbase": arguments["channel_base"], "cmax": arguments["channel_max"]}, None


def _keep_file_architecture(options: TrainingOptions, G: Generator, D: Discriminator | None) -> tuple[TrainingOptions, list[str]]:
    """A resume trains the file's networks as they are: the architecture options become theirs (so the
    run's training_options.json describes what trains), with a note where this run's options said otherwise.
    D None: the file has none, and the run builds one from the options (as wide as G)."""
    theirs: dict[str, Any] = {"z_dim": G.z_dim, "w_dim": G.w_dim, "map": G.mapping.num_layers}
    if D is not None:
        theirs["d_architecture"] = D.b4.architecture
        if D.b4.mbstd is not None and D.b4.mbstd.group_size is not None:
            theirs["mbstd"] = D.b4.mbstd.group_size
    widths, layout_note = _file_widths(G, options)
    theirs.update(widths)
    changed = {name: theirs[name] for name in ARCHITECTURE_OPTIONS if name in theirs and getattr(options, name) != theirs[name]}
    described = [f"{ARCHITECTURE_OPTIONS[name] or name} {value} (not {getattr(options, name)})" for name, value in changed.items()]
    if layout_note:
        described.append(f"{layout_note} (not --cbase {options.cbase} --cmax {options.cmax})")
    if not described:
        return options, []
    note = f"the networks keep the file's architecture: {', '.join(described)}; those options are for new networks"
    return dataclasses.replace(options, **changed), [note]


def _frozen_layers(d_kwargs: dict[str, Any]) -> int:
    """How many of D's first layers its constructor arguments freeze (--freezed)."""
    return (d_kwargs.get("block_kwargs") or {}).get("freeze_layers") or 0


def _resume_freezed(loaded: dict[str, torch.nn.Module], options: TrainingOptions, path: str,
                    continuing: bool) -> tuple[TrainingOptions, list[str]]:
    """--freezed against the file's frozen D layers. A continued run keeps them (its D optimizer state holds only the
    layers that trained): a different --freezed is refused, none keeps the file's. Fine-tuning applies --freezed."""
    theirs = _frozen_layers(loaded["D"].init_kwargs) if "D" in loaded else 0
    if theirs == options.freezed:
        return options, []
    if not continuing:
        return options, [f"the file's D had its first {theirs} layers frozen; this run freezes {options.freezed} (--freezed)"] \
            if theirs else []
    if options.freezed:
        raise TrainingError(f"--resume {path}: its run froze the first {theirs} layers of D (--freezed {theirs}) but this one "
                            f"would freeze {options.freezed}; pass --freezed {theirs} to continue it")
    return dataclasses.replace(options, freezed=theirs), [f"D's first {theirs} layers stay frozen, as its run trained (--freezed {theirs})"]


def _check_resume(
    loaded: dict[str, torch.nn.Module], state: ResumeState | None, options: TrainingOptions, path: str, c_dim: int,
    resolution: int, channels: int, aspect: str, world_size: int,
) -> tuple[TrainingOptions, list[str]]:
    """What a run refuses of its --resume file before building networks from it: networks that do not fit the
    dataset or options, and a run that cannot be continued as this one. The options to train with (a continued run
    keeps its frozen D layers) and notes on what differs."""
    options, notes = _resume_freezed(loaded, options, path, continuing=state is not None)
    _check_networks_fit(loaded, options, c_dim, resolution, channels, path, aspect, state.options if state else None)
    if state is not None:
        notes += _check_continuation(path, state, options, world_size)
        check_run_unfinished(path, state, options.kimg)
    return options, notes


def _options_from_file(loaded: dict[str, torch.nn.Module], state: ResumeState | None,
                       options: TrainingOptions) -> tuple[TrainingOptions, list[str]]:
    """The options a resume trains with: the file's architecture and mapping multiplier, and, when it starts from
    weights only, the official fine-tuning adjustments; with notes where the options said otherwise."""
    G = loaded.get("G") or loaded["G_ema"]
    options, notes = _keep_file_architecture(options, G, loaded.get("D"))
    if "D" not in loaded:
        notes.append("the file holds no discriminator: D starts from random weights, as wide as the file's G")
    file_lrmul = (G.init_kwargs.get("mapping_kwargs") or {}).get("lr_multiplier", MAPPING_LR_MULTIPLIER)
    if file_lrmul != options.map_lrmul:  # the weights are stored divided by it: another one would change G
        notes.append(f"the mapping layers keep the file's learning-rate multiplier {file_lrmul:g} "
                     f"(--map-lrmul {options.map_lrmul:g} is for new networks)")
        options = dataclasses.replace(options, map_lrmul=file_lrmul)
    if state is None:
        options = for_transfer_learning(options)
    return options, notes


def check_resume(options: TrainingOptions, dataset: ImageDataset) -> tuple[TrainingOptions, list[str]]:
    """Read the --resume file (--resume auto: the snapshot it finds) and make the run's checks of it (`_check_resume`) against
    the opened dataset, without training: what --dry-run adds. Returns the options the run would train with and its
    notes on them. A run on clusters is checked for their number only (which clusters the file was trained on needs
    the k-means that the run does)."""
    path, notes = options.resume, []
    auto, fallback = auto_resume(path)
    if auto:
        found, notes = _auto_resume(options, _run_desc(dataset, options))
        if found is None and fallback is None:
            return options, [*notes, "no snapshot to continue: a new run starts"]
        path = str(found) if found is not None else _fallback_file(fallback)
        notes.append(f"continues {path}" if found is not None else f"no snapshot to continue: starts from {path}")
    try:
        loaded, state, read_notes = read_resume_state(path, check_extras=check_resume_extras)
    except CheckpointError as err:
        raise _with_advice(err, path, options) from None
    if auto:
        check_run_unfinished(path, state, options.kimg, auto=True)
    notes += read_notes
    c_dim = options.clusters or dataset.label_dim  # the run's labels: its clusters (made when it starts) or the dataset's
    options, checked = _check_resume(loaded, state, options, path, c_dim, dataset.resolution, dataset.num_channels,
                                     dataset.aspect, options.num_gpus)
    options, kept = _options_from_file(loaded, state, options)
    return options, notes + checked + kept


def _auto_resume(options: TrainingOptions, desc: str) -> tuple[Path | None, list[str]]:
    """The snapshot `--resume auto` continues (None: none), and a line per run of this dataset and --cfg that it
    passed over because its training_options.json differs in the options that tell runs apart (RUN_IDENTITY)."""
    @functools.cache  # the run found is read once more, for its --data
    def recorded(run_dir: Path) -> dict[str, Any]:
        try:
            found = json.loads((run_dir / "training_options.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):  # unreadable: left to the checks every resume makes
            return {}
        return found if isinstance(found, dict) else {}

    found, passed_over = latest_snapshot(options.outdir, desc,
                                         lambda run_dir: ", ".join(run_differences(options, recorded(run_dir))))
    lines = [f"passed over {line}: a run with other options, so another job's (give one of its snapshots to --resume "
             "to continue it anyway)" for line in passed_over]
    theirs = recorded(found.parent).get("data", options.data) if found is not None else options.data
    if theirs != options.data:
        lines.append(f"its run read --data {theirs}, taken for this one (the same file name, moved or copied since)")
    return found, lines


def _with_advice(err: CheckpointError, path: str, options: TrainingOptions) -> CheckpointError:
    """A resume file that cannot be read; when `--resume auto` found it in a run directory, how to go on (a damaged
    newest snapshot would stop every requeue of the job)."""
    if not auto_resume(options.resume)[0] or Path(path).parent.parent != Path(options.outdir).expanduser():
        return err
    return CheckpointError(f"{err}; move it out of the run directory, and --resume auto continues from the snapshot "
                           "before it")


def _fallback_file(spec: str) -> str:
    """The file `--resume auto:FILE` starts from, fetched only now that the run has no snapshot (NVIDIA's network
    names and URLs are downloaded into the cache dir once)."""
    try:
        return str(network_file(spec))
    except DownloadError as err:
        raise TrainingError(f"--resume auto:{spec}: {err}, or pass the file's path") from None


def _run_desc(dataset: ImageDataset, options: TrainingOptions) -> str:
    """The run directory's name after its number, which --resume auto looks for."""
    return f"{dataset.name}-{options.cfg}"


def _check_clusters(G: Generator, c_prior: list[float] | None, path: str) -> None:
    """A run on clusters resumes only from a network trained on the same clusters (their shares must match)."""
    theirs = G.mapping.c_prior
    if c_prior is None or (theirs is not None and np.allclose(theirs, c_prior, rtol=0, atol=1e-12)):
        return
    what = "was not trained on clusters" if theirs is None else "was trained on other clusters than the"
    raise TrainingError(f"--resume {path}: the network {what} {len(c_prior)} k-means clusters --clusters finds in this "
                        f"dataset; resume with the dataset, --clusters and --seed of the run it comes from")


def _make_phases(options: TrainingOptions, G: Generator, D: Discriminator) -> list[Phase]:
    """Adam per network; with lazy regularization, lr and betas are scaled by interval/(interval+1)."""
    phases = []
    for name, module, lr, reg_interval in (("G", G, options.glr, options.g_reg_interval), ("D", D, options.dlr, options.d_reg_interval)):
        ratio = reg_interval / (reg_interval + 1)
        betas = (0.0, 0.99**ratio)
        opt = adam(module.parameters(), lr=lr * ratio, betas=betas)
        phases.append(Phase(name + "main", module, opt, 1))
        regularized = options.pl_weight != 0 if name == "G" else options.gamma != 0
        if regularized:  # a disabled penalty needs no phase (the lr and betas keep the official scaling)
            phases.append(Phase(name + "reg", module, opt, reg_interval))
    return phases


def _grid_inputs(options: TrainingOptions, dataset, z_dim: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Fixed latents (and labels: one class per row) for the snapshot grids."""
    cols, rows = options.grid
    rnd = np.random.RandomState(options.seed)
    z = torch.from_numpy(rnd.randn(cols * rows, z_dim).astype(np.float32)).to(device)
    if options.clusters:  # G draws its clusters from z, as it will for users
        return z, None
    if dataset.label_dim > 0:
        labels = np.zeros((cols * rows, dataset.label_dim), dtype=np.float32)
        for row in range(rows):
            labels[row * cols: (row + 1) * cols, row % dataset.label_dim] = 1
    else:
        labels = np.zeros((cols * rows, 0), dtype=np.float32)
    return z, torch.from_numpy(labels).to(device)


@torch.no_grad()
def _save_fakes(G_ema: Generator, z: torch.Tensor, c: torch.Tensor | None, grid: tuple[int, int], path: Path, batch: int) -> None:
    cs = c.split(batch) if c is not None else [None] * len(z.split(batch))
    images = torch.cat([G_ema(zz, cc, noise_mode="const").cpu() for zz, cc in zip(z.split(batch), cs)])
    save_image(make_grid(to_uint8(images).numpy(), *grid), path)


def _save_reals(dataset, grid: tuple[int, int], path: Path, seed: int) -> None:
    cols, rows = grid
    indices = np.random.RandomState(seed).permutation(len(dataset))[: cols * rows]
    save_image(make_grid(np.stack([dataset[int(i)][0] for i in indices]), cols, rows), path)


def check_resume_extras(extras: dict[str, Any]) -> None:
    """StyleGAN2's own resume fields, the path-length mean, the ADA state and the k-means clusters; ValueError says
    what is wrong."""
    pl_mean = extras.get("pl_mean", 0.0)
    if not finite_number(pl_mean):
        raise ValueError(f"pl_mean is {pl_mean!r}, not a finite number")
    check_augment_state(extras.get("augment", {}))
    clusters = extras.get("clusters", {})
    k, labels = (clusters.get("k", 0), clusters.get("labels", [])) if isinstance(clusters, dict) else (None, None)
    if not (isinstance(k, int) and isinstance(clusters.get("identity", ""), str) and isinstance(labels, list)
            and all(isinstance(x, int) and 0 <= x < k for x in labels)):
        raise ValueError("clusters holds no k-means labels (k, identity, labels of 0..k-1)")


def _clusters_of_snapshot(dataset: ImageDataset, k: int, identity: str | None,
                          state: ResumeState | None) -> list[float] | None:
    """The resume snapshot's k-means labels, assigned to the dataset, when its run clustered these same image files
    into k clusters (the files' identity: names, sizes, times, the subset and decoder); their shares, else None."""
    kept = state.extras.get("clusters", {}) if state is not None else {}
    if identity is None or kept.get("identity") != identity or kept.get("k") != k:
        return None
    labels = np.asarray(kept["labels"], dtype=np.int64)
    if len(labels) != dataset.distinct_len:
        return None
    dataset.assign_labels(labels, k)
    return (np.bincount(labels, minlength=k) / len(labels)).tolist()


def _cluster(dataset: ImageDataset, options: TrainingOptions, ctx: DistributedContext,
             log: Callable[[str], None]) -> list[float]:
    """k-means clusters of the images as their labels (each rank for itself: same seed, same clusters); their shares."""
    if ctx.is_main:
        log(f"Clustering {dataset.distinct_len:,} images into {options.clusters} clusters (k-means of "
            f"{THUMBNAIL_SIZE}x{THUMBNAIL_SIZE} thumbnails; --clusters 0 trains without)...")
    try:
        with sigterm_raises_once():
            return cluster_dataset(dataset, options.clusters, seed=options.seed, progress=ctx.is_main)
    except KeyboardInterrupt as err:  # minutes on a large dataset: say that the Ctrl-C took, and that nothing is lost
        if ctx.is_main:
            log("Interrupted while clustering: nothing was written")
        said_in_log(err)
        raise
    except Terminated as stop:  # a scheduler's SIGTERM: one line, as during training
        raise TrainingError(f"{stop} while clustering; nothing was written") from None


def _resume_file(options: TrainingOptions, desc: str,
                 ctx: DistributedContext) -> tuple[str | None, bytes | None, list[str]]:
    """Rank 0's resume file on every rank: its path (None: nothing to resume) and, with several
    processes, its bytes; and on rank 0 the lines that say what `--resume auto` found.

    `--resume auto` is resolved on rank 0 (to None when --outdir has no snapshot of this run's
    kind), and the other ranks get the file from it, so they need neither the file nor the run
    directory on their machine.
    """
    path, data, error, found_lines = options.resume, b"", None, []
    auto, fallback = auto_resume(path)
    if ctx.is_main and auto:
        found, passed_over = _auto_resume(options, desc)
        found_lines = [f"Resume auto: {line}" for line in passed_over]
        path = str(found) if found is not None else ""
        if found is None:
            these = " with these options" if passed_over else ""
            found_lines.append(f"Resume auto: no snapshot of a {desc} run{these} under {options.outdir}; "
                               + (f"starting from {fallback}" if fallback else "starting a new run"))
            try:
                path = _fallback_file(fallback) if fallback else ""
            except TrainingError as err:  # said once the other processes know
                error = err
    if ctx.is_main and error is None:
        try:
            data = Path(path).read_bytes() if path and ctx.world_size > 1 else b""
        except OSError as err:
            error = TrainingError(f"--resume {path}: cannot read it ({err.strerror or err})")
    shared = broadcast_bytes(None if error else path.encode(), ctx.device)
    if shared is None:
        raise error or TrainingError("rank 0 could not read the --resume file; its message says why")
    if not shared:
        return None, None, found_lines
    return shared.decode(), broadcast_bytes(data, ctx.device), found_lines


def _read_resume(path: str, data: bytes | None, ctx: DistributedContext):
    """read_resume_state of rank 0's file: its own copy on rank 0, the bytes it sent elsewhere."""
    if ctx.is_main or data is None:
        return read_resume_state(path, check_extras=check_resume_extras)
    with tempfile.TemporaryDirectory(prefix="stylegan2-resume-") as tmp:
        copy_path = Path(tmp) / Path(path).name  # the suffix tells the format
        copy_path.write_bytes(data)
        try:
            return read_resume_state(copy_path, check_extras=check_resume_extras)
        except (CheckpointError, TrainingError) as err:  # named as the user named it, not by the copy's path
            raise type(err)(str(err).replace(str(copy_path), path)) from None


def _check_continuation(path: str, state: ResumeState, options: TrainingOptions, world_size: int) -> list[str]:
    """Refuse to continue a run with another global batch; notes on what another process count changes."""
    saved = state.options
    if isinstance(saved.get("batch"), int) and saved["batch"] != options.batch:
        raise TrainingError(f"--resume {path}: its run trained with a global batch of {saved['batch']} (--batch, over all"
                            f" processes) but this one would use {options.batch}; pass --batch {saved['batch']} to continue it")
    notes = []
    if isinstance(saved.get("num_gpus"), int) and saved["num_gpus"] != world_size:
        notes.append(f"its run had {_processes(saved['num_gpus'])}, this one has {world_size}; the global batch is kept")
    saved_precision = saved.get("precision")
    if saved_precision is None and isinstance(saved.get("fp32"), bool):  # runs saved before --precision recorded --fp32
        saved_precision = "fp32" if saved["fp32"] else "fp16"
    if isinstance(saved_precision, str) and saved_precision != options.precision:
        notes.append(f"its run trained with --precision {saved_precision}, this one with --precision {options.precision}")
    if isinstance(saved.get("batch_gpu"), int) and saved["batch_gpu"] != options.batch_gpu:
        notes.append(f"--batch-gpu was {saved['batch_gpu']}, now {options.batch_gpu}: the steps draw other latents and noise")
    if isinstance(saved.get("aug"), str) and saved["aug"] != options.aug:
        notes.append(f"its run trained with --aug {saved['aug']}, this one with --aug {options.aug}; pass --aug {saved['aug']} to keep it")
    return notes


def _parameters_summary(G: Generator, D: Discriminator, freezed: int) -> str:
    """The networks' sizes for the run's first lines; D's counts its frozen layers (Freeze-D keeps them as buffers), named."""
    frozen = {name: sum(t.numel() for t in (layer.weight, layer.bias) if t is not None) for name, layer in D.named_modules()
              if isinstance(layer, Conv2dLayer) and not isinstance(layer.weight, torch.nn.Parameter)}
    d_size = sum(p.numel() for p in D.parameters()) + sum(frozen.values())
    line = f"G: {sum(p.numel() for p in G.parameters()):,} parameters; D: {d_size:,}"
    if frozen:
        line += f", {sum(frozen.values()):,} of them frozen (--freezed {freezed}: {', '.join(frozen)})"
    return line


def _snapshot_summary(G: Generator, D: Discriminator, options: TrainingOptions, start: ResumeState | None = None) -> str:
    """About how large each snapshot is and how many the run writes (from where it resumes), for its first lines."""
    # float32 G, G_ema and D (buffers too) and Adam's two moments of their parameters, and a header line per tensor
    states, params = [net.state_dict().values() for net in (G, G, D)], [list(net.parameters()) for net in (G, D)]
    values = sum(t.numel() for state in states for t in state) + 2 * sum(p.numel() for group in params for p in group)
    tensors = sum(len(state) for state in states) + 2 * sum(len(group) for group in params)
    size = 4 * values + 130 * tensors
    start = start or ResumeState()
    ticks = max(ticks_to_go(start.cur_nimg, options.kimg, options.tick), 1)
    count = snapshots_due(start.cur_tick, start.cur_tick + ticks - 1, options.snap)
    left = f"in {options.kimg:g} kimg" if start.cur_nimg == 0 else f"in the {options.kimg - start.cur_nimg / 1000:g} kimg left"
    every = options.tick * options.snap
    kept = min(count, options.keep_snapshots or count)
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


def _setup_summary(options: TrainingOptions, device_type: str, num_images: int | None) -> list[str]:
    """What the run chose that a user might not have typed: objective, packing, precision, augmentation (with the
    preset's reason where it picked it for this dataset's `num_images`), data loading."""
    penalties = "R1 and R2" if options.loss == "r3gan" else "R1"
    judge = f"packs of {options.pack} images" if options.pack > 1 else "one image at a time"
    if options.pack_by_class:
        judge += " of one class each"
    aug = {"ada": f"ada (p tuned toward r_t {options.target:g}, pipeline {options.augpipe}; only images drawn for a transform are touched)",
           "fixed": f"fixed p {options.p:g} (pipeline {options.augpipe})", "noaug": "none", "diffaug": "DiffAugment"}[options.aug]
    rule = preset_aug_rule(options.cfg, options.aug, num_images)
    if rule is not None:
        aug += f"; {rule}"
    mapping = "" if options.map_lrmul == MAPPING_LR_MULTIPLIER else \
        f"; mapping layers' learning-rate multiplier {options.map_lrmul:g} (--map-lrmul; NVIDIA's {MAPPING_LR_MULTIPLIER:g})"
    return [f"Objective: --loss {options.loss}, {penalties} gamma {options.gamma:g}; D judges {judge}{mapping}",
            _precision_summary(options.precision, device_type),
            f"Augmentation: {aug}",
            f"Data loading: {options.workers} worker processes (--workers); {torch.get_num_threads()} compute threads"]


def _metrics_summary(metrics: list[str]) -> str:
    """The metrics each snapshot gets, and, when a file they need is missing, why (now, not at the first snapshot)."""
    from ..metrics.calc import missing_metric_files

    line = f"Metrics: {', '.join(metrics)} of G_ema at each snapshot (--metrics)"
    missing = missing_metric_files(metrics)
    return line if missing is None else f"{line}\n  note: they fail (and training goes on) until this is fixed: {missing}"


STATUS_LOSSES = (("G", "Loss/G/loss"), ("D", "Loss/D/loss"), ("r1", "Loss/r1_penalty"), ("r2", "Loss/r2_penalty"),
                 ("pl", "Loss/pl_penalty"))


def train(
    options: TrainingOptions,
    *,
    device: str | None = None,
    log: Callable[[str], None] = print,
    max_steps: int | None = None,
    dataset: ImageDataset | None = None,
    dist_timeout: float | None = None,
) -> Path | None:
    """Run training as `options` say; returns the run directory (on rank 0, else None).

    `max_steps` stops after that many minibatches (with a final snapshot); tests use it.
    `dataset` is `options.data` already opened (and validated) by the caller, so it is not read twice.
    `dist_timeout` (seconds; default: distributed.dist_timeout()) bounds every wait for the other
    processes under torchrun.

    The options are checked first (`validate_options`), as `resolve_options` checks them: options edited after it,
    or built by hand, get the same one-line ValueError. Ctrl-C (or SIGUSR1) writes a final snapshot and raises
    StoppedTogether, a KeyboardInterrupt; a run that cannot go on raises TrainingError (RunFinished, when
    `resume='auto'` finds the run already at `kimg`), bad data DatasetError. torch's and NumPy's global random
    states and the CUDA math flags are the caller's again afterwards (the CUDA generators where CUDA was in use before
    the call; see `session.caller_state_kept`).
    """
    validate_options(options)
    with caller_state_kept():  # the caller's random draws and CUDA flags, as they were
        ctx = start_process(device, options.seed, dist_timeout)
        # a rank lost while the run starts (the session names those lost later); a Ctrl-C before the run directory
        with lost_ranks_named(ctx), usr1_interrupts(), interruption_said(log, ctx.is_main):
            return _train(options, ctx, log=log, max_steps=max_steps, dataset=dataset)


def _train(options: TrainingOptions, ctx: DistributedContext, *, log: Callable[[str], None], max_steps: int | None,
           dataset: ImageDataset | None) -> Path | None:
    """train() in a process that has joined the group."""
    configure_backends(ctx.device, allow_tf32=options.allow_tf32, cudnn_benchmark=not options.nobench)
    if dataset is None:
        dataset = open_dataset(options.data, resolution=options.resolution, max_size=options.max_size,
                               use_labels=options.cond, mirror=options.mirror, skip_bad=options.skip_bad, seed=options.seed)
    header: list[str] = []
    desc = _run_desc(dataset, options)
    # The resume file first: a finished run (a requeued job's --resume auto) ends here, before minutes of clustering.
    resume_path, resume_data, found_lines = _resume_file(options, desc, ctx) if options.resume else (None, None, [])
    resume_state: ResumeState | None = None
    if resume_path:
        auto = auto_resume(options.resume)[0]
        try:
            loaded, resume_state, resume_notes = _read_resume(resume_path, resume_data, ctx)
        except CheckpointError as err:
            raise _with_advice(err, resume_path, options) from None
        if auto:
            try:
                check_run_unfinished(resume_path, resume_state, options.kimg, auto=True)
            except RunFinished as done:  # with what auto passed over on its way (rank 0's lines)
                raise RunFinished("\n".join([*found_lines, str(done)])) from None
    c_prior, clusters_kept = None, {}
    if options.clusters:  # self-conditioning: k-means clusters of the images become class labels
        identity = dataset.file_identity()  # before the labels, which it includes
        c_prior = _clusters_of_snapshot(dataset, options.clusters, identity, resume_state)
        if c_prior is None:
            c_prior = _cluster(dataset, options, ctx, log)
        elif ctx.is_main:
            header.append(f"Clusters: read from {Path(resume_path).name}, whose run clustered these same image files")
        if identity is not None:  # a resume of a snapshot then skips the clustering (minutes for a large dataset)
            clusters_kept = {"k": options.clusters, "identity": identity, "labels": dataset.assigned_labels().tolist()}
        header.append(f"Clusters: {options.clusters} k-means clusters of the images as labels (--clusters), "
                      f"{min(c_prior):.1%}-{max(c_prior):.1%} of the images each; G draws them with these odds")
    if options.pack_by_class and not dataset.has_class_labels:
        raise TrainingError(f"--pack-by-class: the labels of {options.data} are vectors of {dataset.label_dim} values, not "
                            "classes; packs need one class per image (class labels, or --clusters)")
    c_dim, resolution, channels = dataset.label_dim, dataset.resolution, dataset.num_channels

    G_ema = None
    header += found_lines
    if resume_path:
        options = dataclasses.replace(options, resume=resume_path)  # training_options.json names the file, not 'auto'
        notes = resume_notes
        options, checked = _check_resume(loaded, resume_state, options, resume_path, c_dim, resolution, channels, dataset.aspect,
                                         ctx.world_size)
        notes += checked
        G, D, G_ema = _networks_from_checkpoint(loaded, options, c_dim, resolution, channels, dataset.aspect)
        _check_clusters(G, c_prior, resume_path)
        options, kept = _options_from_file(loaded, resume_state, options)
        notes += kept
        kind = "continuing the run" if resume_state else "transfer learning from its weights"
        header.append(f"Resuming from {resume_path}: {kind}" + "".join(f"\n  note: {n}" for n in notes))
    else:
        G, D = build_networks(options, c_dim, resolution, channels, c_prior, dataset.aspect)
    if G_ema is None:
        G_ema = copy.deepcopy(G)
    G, D, G_ema = (m.to(ctx.device) for m in (G, D, G_ema))
    G.train().requires_grad_(False)
    D.train().requires_grad_(False)
    G_ema.eval().requires_grad_(False)
    for module in (G, D, G_ema):  # every rank starts from rank 0's weights
        for tensor in list(module.parameters()) + list(module.buffers()):
            broadcast_(tensor.data)

    augment: Augmentation = build_augment(options, ctx.device)
    loss = LOSSES[options.loss](G, D, augment_pipe=augment.pipe, r1_gamma=options.gamma, style_mixing_prob=options.style_mixing_prob,
                                pl_weight=options.pl_weight, pack=options.pack)
    phases = _make_phases(options, G, D)
    optimizers = {"G": phases[0].opt, "D": next(p.opt for p in phases if p.name == "Dmain")}

    session = TrainingSession(options, ctx, networks={"G": G, "D": D, "G_ema": G_ema}, optimizers=optimizers, log=log,
                              max_steps=max_steps)
    if resume_state is not None:
        session.resume(resume_state, Path(resume_path))
        loss.pl_mean.fill_(float(resume_state.extras.get("pl_mean", 0.0)))
        augment.load_state_dict(resume_state.extras.get("augment", {}))
    group = options.pack if options.pack_by_class else 1  # real and generated samples come in runs of one class
    minibatches = session.minibatches(dataset, class_packs=group)

    grid_z, grid_c = _grid_inputs(options, dataset, G.z_dim, ctx.device)
    header.append(f"Dataset: {dataset.summary()}")
    header.append(_parameters_summary(G, D, options.freezed))
    header.append(_snapshot_summary(G, D, options, resume_state))
    header.extend(_setup_summary(options, ctx.device.type, dataset.distinct_len))
    if options.metrics and ctx.is_main:
        header.append(_metrics_summary(options.metrics))
    run_dir = session.open_run_dir(desc, header)

    def save_fakes(label: str) -> None:
        _save_fakes(G_ema, grid_z, grid_c, options.grid, run_dir / f"fakes{label}.png", options.batch_gpu)

    if run_dir is not None:
        with session.before_first_step():  # optional outputs: on a full disk a note each
            session.optional_output(lambda: _save_reals(dataset, options.grid, run_dir / "reals.png", options.seed))
            session.optional_output(lambda: save_fakes("_init"))

    def step() -> None:
        """One minibatch: the phases due, then G_ema and the ADA strength."""
        real_img, real_c = next(minibatches)
        real_img = (real_img.to(ctx.device, non_blocking=True).to(torch.float32) / 127.5 - 1).split(options.batch_gpu)
        real_c = real_c.to(ctx.device, non_blocking=True).split(options.batch_gpu)
        for phase_index, phase in enumerate(phases):
            if session.batch_idx % phase.interval != 0:
                continue

            def accumulate(r: int, gain: float) -> dict[str, torch.Tensor]:
                rng = seed_slice(options.seed, session.batch_idx, phase_index, ctx.rank * session.rounds + r)
                gen_z = torch.randn(options.batch_gpu, G.z_dim, device=ctx.device)
                drawn = np.repeat(rng.integers(len(dataset), size=options.batch_gpu // group), group)
                labels = [dataset.get_label(int(i)) for i in drawn]
                gen_c = torch.from_numpy(np.stack(labels))
                if ctx.device.type == "cuda":  # from pageable memory the copy may wait for the GPU; NVIDIA pins too
                    gen_c = gen_c.pin_memory()
                gen_c = gen_c.to(ctx.device, non_blocking=True)
                return loss.accumulate_gradients(phase.name, real_img[r], real_c[r], gen_z, gen_c, gain=gain)

            run_phase(phase, accumulate, session.rounds, session.finite, session.collector,
                      on_stats=lambda stats: augment.accumulate(stats.get("Loss/signs/real")))
        update_ema(G_ema, G, ema_beta(options.batch, options.ema_kimg, session.cur_nimg, options.ema_rampup))
        augment.adjust(session.batch_idx + 1, options.batch)  # the minibatch just taken, counted from 1

    def on_tick() -> TickReport:
        """Each process tracked w_avg on its own data; their mean is the w_avg of the whole batch."""
        all_reduce_mean_(G.mapping.w_avg)
        G_ema.mapping.w_avg.copy_(G.mapping.w_avg)
        progress = {"Progress/augment": augment.p}
        if augment.r_t is not None:
            progress["Progress/ada_rt"] = augment.r_t
        return TickReport(progress, status=f"augment {augment.p:.3f} ")

    def evaluate_metrics(snapshot_path: Path) -> None:
        for metric in options.metrics:
            _evaluate_metric(metric, G_ema, options, ctx, run_dir, snapshot_path, session.log)

    session.run(LoopHooks(
        step=step, save_grids=save_fakes, status_losses=STATUS_LOSSES,
        advice="Lower the learning rates (--glr/--dlr), raise --gamma, or use --precision fp32.",
        on_tick=on_tick, resume_extras=lambda: {"pl_mean": float(loss.pl_mean), "augment": augment.state_dict(),
                                                **({"clusters": clusters_kept} if clusters_kept else {})},
        after_snapshot=evaluate_metrics, left_out=lambda path: _metrics_left_out(options.metrics, path, run_dir, ctx),
    ))
    return run_dir


def _processes(count: int) -> str:
    return f"{count} process" if count == 1 else f"{count} processes"


def _metrics_left_out(metrics: list[str], snapshot: Path, run_dir: Path, ctx: DistributedContext) -> str:
    """The command that scores the Ctrl-C snapshot as the run scores the others (on as many processes), whose
    metrics the run leaves out (they may take long)."""
    if not metrics:
        return ""
    processes = f" --gpus {ctx.world_size}" + (" --device cpu" if ctx.device.type == "cpu" else "") if ctx.world_size > 1 else ""
    return (f"Metrics are left out at this snapshot; to add them: stylegan2 metrics --network {snapshot} "
            f"--metrics {','.join(metrics)} --run-dir {run_dir}{processes}")


def _evaluate_metric(metric: str, G_ema: Generator, options: TrainingOptions, ctx: DistributedContext,
                     run_dir: Path | None, snapshot_path: Path, log: Callable[[str], None]) -> None:
    """Score the snapshot, every process taking its share of the images (as NVIDIA's loop does); a metric that
    cannot run (say, a detector file missing on one machine) is reported once per reason, by a process that saw it; not fatal."""
    from ..metrics import evaluate_for_training
    from ..metrics.calc import OtherRankFailed, SameAsLowerRank
    from ..metrics.evaluate import format_results

    try:
        with warnings.catch_warnings(record=True) as notes:  # the metric's notes go to the run log, not Python's form
            warnings.simplefilter("always")
            record = evaluate_for_training(metric, G_ema, options.data, run_dir=run_dir, snapshot=snapshot_path,
                                           mirror=options.mirror, device=ctx.device, rank=ctx.rank, world_size=ctx.world_size)
    except (ValueError, FileNotFoundError) as err:
        if ctx.is_main:
            log(f"Metric {metric} failed: {err}")
        elif not isinstance(err, (OtherRankFailed, SameAsLowerRank)):  # rank 0's log names this process; the reason is here
            log(f"Metric {metric} failed on process {ctx.rank}: {err}")
        return
    if ctx.is_main:
        for note in dict.fromkeys(str(n.message) for n in notes):
            log(f"note: {note}")
        log(format_results([record]))
