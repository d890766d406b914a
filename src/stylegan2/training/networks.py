"""The networks a StyleGAN2 run trains: built fresh from the options, or rebuilt from a --resume file's networks
(checked to fit the dataset, with this run's precision, keeping the file's architecture)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from ..data import ImageDataset
from ..data.dataset import label_size_mismatch
from ..io.channels import channel_arguments
from ..models import Discriminator, Generator
from ..models.aspect import SQUARE, aspect_kwargs
from ..models.mapping import LR_MULTIPLIER as MAPPING_LR_MULTIPLIER
from ..models.synthesis import channel_counts
from .config import TrainingOptions, validate_options
from .errors import TrainingError
from .freezing import frozen_layers


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


def check_networks_fit(
    loaded: dict[str, torch.nn.Module], options: TrainingOptions, c_dim: int, resolution: int, channels: int, path: str,
    aspect: str = SQUARE, file_options: dict[str, Any] | None = None, labelled_data: ImageDataset | None = None,
) -> None:
    """Refuse a file whose networks do not fit the dataset (image size, channels, labels, aspect) or --pack;
    `file_options`, the options its run recorded (a snapshot of ours), say what to pass to fit it; `labelled_data`,
    the dataset when it was opened with labels (--cond), says what its labels lack."""
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
            fixes.append(_resolution_fix(options, resolution, kw["img_resolution"]))
        if kw["img_channels"] != channels:
            fixes.append(_channels_fix(kw["img_channels"]))
        if kw["c_dim"] and kw["c_dim"] != c_dim and labelled_data is not None and labelled_data.label_dim:
            fixes.append(label_size_mismatch(labelled_data, kw["c_dim"]).replace("; ", ": ", 1))
        elif kw["c_dim"] and kw["c_dim"] != c_dim:
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


def _resolution_fix(options: TrainingOptions, resolution: int, theirs: int) -> str:
    """How to give a network of `theirs` px the dataset of `resolution` px: a command that makes a copy of the data at
    its size, or the --resolution that pads them to it."""
    if resolution > theirs and "resolution" not in options.given:
        dest = f"{Path(options.data.removeprefix('builtin:').split('?')[0]).stem}-{theirs}.zip"
        return (f"make a {theirs} px copy of the dataset (stylegan2 dataset --source {options.data} --dest {dest} "
                f"--resolution {theirs} --transform center-crop) and train on it")
    return f"train at {theirs} px (--resolution {theirs}; smaller images are padded with black)"


def _channels_fix(theirs: int) -> str:
    """How to give a network that makes `theirs`-channel images a dataset of another kind: `stylegan2 dataset` keeps
    a source's grayscale, so the images themselves."""
    if theirs not in (1, 3):
        return f"use {theirs}-channel images"
    kind, mode = ("RGB", "RGB") if theirs == 3 else ("grayscale", "L")
    return f"use {theirs}-channel images (convert each image to {kind}, e.g. with PIL's Image.convert('{mode}'))"


def _labels_fix(c_dim: int, options: TrainingOptions, file_options: dict[str, Any]) -> str:
    """How to train with a file's `c_dim` labels: its run's clusters (and preset) when its options say it trained on
    clusters, else the dataset's labels or as many clusters."""
    if file_options.get("clusters") == c_dim and not file_options.get("cond"):
        cfg = file_options.get("cfg")
        preset = f" --cfg {cfg}" if isinstance(cfg, str) and cfg != options.cfg else ""
        return f"train on {c_dim} clusters as its run did (--clusters {c_dim}{preset})"
    return f"train with {c_dim} label dims (--cond with the dataset's labels, or --clusters {c_dim})"


def networks_from_checkpoint(
    loaded: dict[str, torch.nn.Module], options: TrainingOptions, c_dim: int, resolution: int, channels: int,
    aspect: str = SQUARE, c_prior: list[float] | None = None,
) -> tuple[Generator, Discriminator, Generator | None]:
    """Rebuild G and D (checked by check_networks_fit) with the checkpoint's architecture and copy its weights (transfer
    learning). `c_prior`: fine-tuning on clusters, whose shares G and G_ema then draw their classes with."""
    source_G = loaded.get("G") or loaded.get("G_ema")
    G = Generator(**_with_prior(_run_precision(source_G.init_kwargs, options, blocks="synthesis_kwargs"), c_prior))
    G.load_state_dict(source_G.state_dict())
    if "D" in loaded:
        d_kw = dict(loaded["D"].init_kwargs)
        if frozen_layers(d_kw) != options.freezed:  # the file's kwargs stay as they were otherwise
            block = {key: value for key, value in (d_kw.get("block_kwargs") or {}).items() if key != "freeze_layers"}
            d_kw["block_kwargs"] = {**block, **({"freeze_layers": options.freezed} if options.freezed else {})}
        D = Discriminator(**_run_precision(d_kw, options, blocks="block_kwargs"))
        D.load_state_dict(loaded["D"].state_dict())
    else:  # a generator-only file (rosinality's convert_weight.py output): a new D, as wide as the file's G
        _, D = build_networks(dataclasses.replace(options, **_file_widths(G, options)[0]), c_dim, resolution, channels,
                              aspect=aspect)
    G_ema = None
    if "G_ema" in loaded:
        G_ema = Generator(**_with_prior(_run_precision(loaded["G_ema"].init_kwargs, options, blocks="synthesis_kwargs"),
                                        c_prior))
        G_ema.load_state_dict(loaded["G_ema"].state_dict())
    return G, D, G_ema


def _with_prior(kw: dict[str, Any], c_prior: list[float] | None) -> dict[str, Any]:
    """A generator's init kwargs with its mapping's cluster shares replaced by `c_prior` (None: as they are)."""
    if c_prior is None:
        return kw
    return {**kw, "mapping_kwargs": {**(kw.get("mapping_kwargs") or {}), "c_prior": c_prior}}


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


def keep_file_architecture(options: TrainingOptions, G: Generator, D: Discriminator | None) -> tuple[TrainingOptions, list[str]]:
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
    return dataclasses.replace(options, **changed), [kept_architecture_note(described)]


def kept_architecture_note(differences: list[str]) -> str:
    """The note of a resume whose file's networks differ from what the options would build (each difference
    'what theirs is (not what the options say)'): they train as they are."""
    return f"the networks keep the file's architecture: {'; '.join(differences)}; those options are for new networks"


def file_labels(options: TrainingOptions, G: Generator, D: Discriminator | None) -> tuple[TrainingOptions, list[str]]:
    """A resume trains the file's networks on labels and packs they take, where --clusters and --pack were not given:
    as many clusters as a network trained on clusters has classes (none for an unconditional one) and its D's pack,
    with R1 gamma scaled by the pack as the presets scale it. The preset's own choices are for new networks and would
    make `check_networks_fit` refuse the file. Runs on real labels (--cond) keep their options."""
    if options.cond or not isinstance(G, Generator):
        return options, []
    changes: dict[str, Any] = {}
    if "clusters" not in options.given:
        theirs = G.c_dim if G.mapping.draws_labels else 0 if G.c_dim == 0 else None  # None: real labels, not ours to pick
        if theirs is not None and theirs != options.clusters:
            changes["clusters"] = theirs
    d_channels = D.init_kwargs["img_channels"] if isinstance(D, Discriminator) else 0
    if "pack" not in options.given and d_channels and d_channels % G.img_channels == 0:
        pack = d_channels // G.img_channels
        if pack != options.pack:
            changes["pack"] = pack
            if "gamma" not in options.given:
                changes["gamma"] = options.gamma * options.pack / pack  # the same total weight per D input
    clusters, pack = changes.get("clusters", options.clusters), changes.get("pack", options.pack)
    if options.pack_by_class and "pack_by_class" not in options.given and (not clusters or pack < 2):
        changes["pack_by_class"] = False
    if not changes:
        return options, []
    said = [f"--{name.replace('_', '-')} {changes[name]:g}" for name in ("clusters", "pack", "gamma") if name in changes]
    instead = [f"--{name.replace('_', '-')} {getattr(options, name):g}" for name in ("clusters", "pack", "gamma")
               if name in changes]
    note = (f"the file's networks train as they were trained: {', '.join(said)} (the preset's {', '.join(instead)} are "
            "for new networks; give --clusters or --pack to choose)")
    followed = dataclasses.replace(options, **changes, from_file=tuple(sorted({*options.from_file, *changes})))
    validate_options(followed)  # a larger pack must still divide --batch-gpu
    return followed, [note]

