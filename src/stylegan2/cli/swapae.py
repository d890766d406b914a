"""`stylegan2 swapae train | swap | encode | decode`: argument parsing only; see stylegan2.swapae."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

import click

from ..data import ImageDataset
from ..data.errors import SKIP_BAD_BY_CONVERTING
from ..data.sources import DATASET_KINDS_TEXT
from ..swapae.config import SWAPAE_CFG_NAMES, SWAPAE_PRESETS, SwapAEOptions, SwapAEPreset
from ..swapae.start import PURPOSE, open_and_resolve, train_process
from ..swapae.tools import decode, encode, swap
from ..swapae.training import train_swapae
from ..training.distributed import check_slurm_tasks, init_distributed
from ..training.launch import ProcessLayout, launch
from ..training.signals import sigterm_stops
from ..training.start import TRAINING_USER_ERRORS
from ..utils.device import check_gpus, select_device
from .defaults import default_of, format_default
from .flags import (
    BATCH_GPU_HELP,
    CBASE_HELP,
    SEED,
    SNAP_HELP,
    Command,
    FiniteFloatRange,
    FlagValuesCommand,
    OptionHintsCommand,
    UserPath,
    WholeSummariesGroup,
    device_option,
    max_size_option,
    quiet_option,
    say,
    workers_option,
)
from .tools import user_errors
from .train import process_for, run_training_command, typed_only

PRESET_SETTINGS = {f.name for f in dataclasses.fields(SwapAEPreset)}


class GreedyOptionsCommand(OptionHintsCommand):
    """Lets `--structure A.png B.png` take several values: each value after the flag becomes its own `--structure`."""

    greedy = ("--structure", "--texture")

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        expanded: list[str] = []
        flag = None
        for position, arg in enumerate(args):
            if arg == "--":  # the rest is positional
                expanded.extend(args[position:])
                break
            if arg.startswith("-"):  # any option ends the values of the one before
                name, has_value, _ = arg.partition("=")
                flag = name if name in self.greedy else None
                if flag is None or has_value:
                    expanded.append(arg)
            else:
                expanded.extend([flag, arg] if flag is not None else [arg])
        return super().parse_args(ctx, expanded)


@click.group("swapae", cls=WholeSummariesGroup)
def swapae_group() -> None:
    """Swapping Autoencoder (Park et al., 2020): structure and texture codes, swapped between images."""


def option_default(name: str) -> Any:
    """SwapAEOptions' default for `name` (the cpu preset's, for preset settings)."""
    return next(f for f in dataclasses.fields(SwapAEOptions) if f.name == name).default


def shown_default(name: str) -> str:
    """'[default: ...]' for --help: each preset's value when --cfg sets it (equal values grouped), else the options' default."""
    if name not in PRESET_SETTINGS:
        return f"[default: {format_default(option_default(name))}]"
    by_value: dict[str, list[str]] = {}
    for cfg, preset in SWAPAE_PRESETS.items():
        by_value.setdefault(format_default(getattr(preset, name)), []).append(cfg)
    if len(by_value) == 1:
        return f"[default: {next(iter(by_value))}]"
    return "[default: " + ", ".join(f"{value} ({'/'.join(cfgs)})" for value, cfgs in by_value.items()) + "]"


@swapae_group.command("train", cls=FlagValuesCommand)
@click.option("--data", required=True, type=UserPath(), help=f"Dataset: {DATASET_KINDS_TEXT}.")
@click.option("--outdir", default=option_default("outdir"), show_default=True, type=UserPath(),
              help="Where run directories are created.")
@click.option("--cfg", type=click.Choice(SWAPAE_CFG_NAMES), default=option_default("cfg"), show_default=True,
              help="Preset: cpu (32 px on a CPU), 256 or 512 (the paper's settings, GPUs).")
@click.option("--mirror/--no-mirror", default=None, help=f"Add x-flipped copies of the images.  {shown_default('mirror')}")
@max_size_option
@click.option("--resolution", type=int, help="Pad smaller images to this size; builtin:shapes renders at it.")
@click.option("--kimg", type=FiniteFloatRange(min=0, min_open=True),
              help=f"Training length in thousands of real images.  {shown_default('kimg')}")
@click.option("--batch", type=click.IntRange(min=2), help=f"Total batch size (all processes).  {shown_default('batch')}")
@click.option("--batch-gpu", type=click.IntRange(min=2), help=f"{BATCH_GPU_HELP}  {shown_default('batch_gpu')}")
@click.option("--lr", type=FiniteFloatRange(min=0, min_open=True), help=f"Adam learning rate of all networks.  {shown_default('lr')}")
@click.option("--lambda-l1", type=FiniteFloatRange(min=0),
              help=f"Weight of the L1 reconstruction loss.  {shown_default('lambda_l1')}")
@click.option("--lambda-gan-rec", type=FiniteFloatRange(min=0),
              help=f"Weight of the GAN loss on reconstructions.  {shown_default('lambda_gan_rec')}")
@click.option("--lambda-gan-swap", type=FiniteFloatRange(min=0),
              help=f"Weight of the GAN loss on swapped images.  {shown_default('lambda_gan_swap')}")
@click.option("--lambda-patch", type=FiniteFloatRange(min=0),
              help=f"Weight of the patch co-occurrence GAN loss.  {shown_default('lambda_patch')}")
@click.option("--lambda-l2", type=FiniteFloatRange(min=0),
              help=f"Weight of a squared-error reconstruction loss (ours, not the paper's).  {shown_default('lambda_l2')}")
@click.option("--recolor-structure/--no-recolor-structure", default=None,
              help=f"Take training images' structure codes from recoloured copies (ours).  {shown_default('recolor_structure')}")
@click.option("--r1-gamma", type=FiniteFloatRange(min=0), help=f"R1 weight of the image discriminator.  {shown_default('r1_gamma')}")
@click.option("--patch-r1-gamma", type=FiniteFloatRange(min=0),
              help=f"R1 weight of the patch discriminator.  {shown_default('patch_r1_gamma')}")
@click.option("--r1-interval", type=click.IntRange(min=1), help=f"Minibatches between lazy R1 steps.  {shown_default('r1_interval')}")
@click.option("--spatial-code-ch", type=click.IntRange(min=1),
              help=f"Channels of the structure code.  {shown_default('spatial_code_ch')}")
@click.option("--global-code-ch", type=click.IntRange(min=1), help=f"Dimensions of the texture code.  {shown_default('global_code_ch')}")
@click.option("--netE-num-downsampling-sp", "num_downsampling_sp", type=click.IntRange(min=1),
              help=f"Halvings from the image to the structure code.  {shown_default('num_downsampling_sp')}")
@click.option("--netE-num-downsampling-gl", "num_downsampling_gl", type=click.IntRange(min=0),
              help=f"Further stride-2 convolutions before the texture code.  {shown_default('num_downsampling_gl')}")
@click.option("--noise/--no-noise", "use_noise", default=None, help=f"Per-pixel noise inputs in G.  {shown_default('use_noise')}")
@click.option("--patch-size", type=click.IntRange(min=1),
              help=f"Side of the patches the co-occurrence discriminator sees.  {shown_default('patch_size')}")
@click.option("--num-patches", type=click.IntRange(min=1),
              help=f"Patches per image for the co-occurrence loss.  {shown_default('num_patches')}")
@click.option("--cbase", type=click.IntRange(min=1), help=f"{CBASE_HELP}  {shown_default('cbase')}")
@click.option("--cmax", type=click.IntRange(min=1), help=f"Maximum channels per layer.  {shown_default('cmax')}")
@click.option("--seed", type=SEED, help=f"Random seed.  {shown_default('seed')}")
@click.option("--tick", type=FiniteFloatRange(min=0, min_open=True), help=f"kimg between progress lines.  {shown_default('tick')}")
@click.option("--snap", type=click.IntRange(min=1), help=f"{SNAP_HELP}  {shown_default('snap')}")
@click.option("--keep-snapshots", type=click.IntRange(min=0),
              help=f"Keep the newest N snapshots of the run, deleting older ones (0: keep all).  {shown_default('keep_snapshots')}")
@workers_option
@click.option("--resume", type=UserPath(), help="Continue a run from its snapshot (or start from its weights).")
@device_option
@click.option("--gpus", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes to start on this machine, one per GPU (with --device cpu, CPU processes): the run "
                   "`torchrun --standalone --nproc_per_node=N` gives.")
@click.option("-n", "--dry-run", is_flag=True, help="Print the resolved options and exit.")
@quiet_option
def train_command(data: str, cfg: str, device: str | None, gpus: int, dry_run: bool, **overrides) -> None:
    """Train a Swapping Autoencoder: snapshots, logs and grids in OUTDIR/NNNNN-<data>-swapae-<cfg>/.

    \b
    Examples:
      stylegan2 swapae train --data builtin:shapes --cfg cpu --kimg 50
      stylegan2 swapae train --data ~/datasets/church256.zip --cfg 256 --mirror
      stylegan2 swapae train --data ffhq512.zip --cfg 512 --gpus 4
      torchrun --nproc_per_node=4 -m stylegan2 swapae train --data ffhq512.zip --cfg 512
    """
    overrides = typed_only(overrides)  # the run's `given`: what was typed, as train's
    with user_errors():  # what the environment asks for, checked before anything runs (also by --dry-run)
        check_slurm_tasks(nnodes=1)
        sigterm_stops()
    if gpus == 1:  # this process trains (alone, or as one of torchrun's)
        def resolve() -> tuple[ImageDataset, SwapAEOptions]:
            select_device(device)  # a one-line error for a device this machine lacks, before torch's
            ctx = init_distributed(device, purpose=PURPOSE, timeout_option=None)
            return open_and_resolve(data, cfg, overrides, ctx.world_size, ctx.device.type, creates_runs=ctx.is_main,
                                    dry_run=dry_run)

        run_training_command(resolve, lambda options, dataset, notes: train_swapae(options, device=device, dataset=dataset,
                                                                               notes=notes), dry_run,
                             SKIP_BAD_BY_CONVERTING)
        return

    def resolve_for_launch() -> tuple[ImageDataset, SwapAEOptions]:
        return open_and_resolve(data, cfg, overrides, gpus, check_gpus(gpus, device).type, creates_runs=True,
                                dry_run=dry_run)

    def run_processes(options: SwapAEOptions, dataset: ImageDataset, notes: list[str]) -> None:
        launch(ProcessLayout(nproc_per_node=gpus), process_for(train_process), data, cfg, device, overrides, notes,
               user_errors=TRAINING_USER_ERRORS)

    run_training_command(resolve_for_launch, run_processes, dry_run, SKIP_BAD_BY_CONVERTING)


network_option = click.option("--network", required=True, type=UserPath(path_type=Path),  # a run directory is named
                              help="A snapshot of `stylegan2 swapae train` (E and G are used).")
force_option = click.option("--force", is_flag=True, help="Overwrite existing outputs.")


def outdir_option(function: Callable[..., Any]) -> Callable[[Command], Command]:
    """--outdir at `function`'s default (swap's or decode's)."""
    return click.option("--outdir", default=default_of(function, "outdir"), show_default=True,
                        type=UserPath(file_okay=False, path_type=Path), help="Where to write the images.")


@swapae_group.command("swap", cls=GreedyOptionsCommand)
@network_option
@click.option("--structure", required=True, multiple=True, type=UserPath(dir_okay=False, path_type=Path),
              help="Images that give the layout (rows); several may follow the flag.")
@click.option("--texture", required=True, multiple=True, type=UserPath(dir_okay=False, path_type=Path),
              help="Images that give the look (columns); several may follow the flag.")
@click.option("--alpha", default=format_default(default_of(swap, "alpha")), show_default=True, metavar="A[,A...]",
              help="0 keeps the structure image's own texture, 1 takes the texture image's; between interpolates. "
                   "Several values (0,0.25,0.5,0.75,1) make a sweep per pair.")
@outdir_option(swap)
@force_option
@device_option
@quiet_option
def swap_command(network: Path, structure: tuple[Path, ...], texture: tuple[Path, ...], alpha: str, outdir: Path,
                 force: bool, device: str | None) -> None:
    """Every structure image with every texture image: swap_grid.png (inputs on the borders) and swap_sII_tJJ.png.

    \b
    Examples:
      stylegan2 swapae swap --network snap.safetensors --structure a.png b.png --texture c.png d.png
      stylegan2 swapae swap --network snap.safetensors --structure a.png --texture c.png --alpha 0.5
      stylegan2 swapae swap --network snap.safetensors --structure a.png --texture c.png --alpha 0,0.25,0.5,0.75,1
    """
    with user_errors():
        paths = swap(network, structure, texture, outdir, alpha=alpha, force=force, device=device)
    say(f"wrote {paths[0]} and {len(paths) - 1} swapped image(s) to {outdir}")


@swapae_group.command("encode", cls=OptionHintsCommand)
@network_option
@click.argument("images", nargs=-1, required=True, type=UserPath(dir_okay=False, path_type=Path))
@click.option("--out", default=default_of(encode, "out"), show_default=True, type=UserPath(dir_okay=False, path_type=Path),
              help="The .npz to write: structure, texture and names arrays.")
@force_option
@device_option
@quiet_option
def encode_command(network: Path, images: tuple[Path, ...], out: Path, force: bool, device: str | None) -> None:
    """Save the structure and texture codes of IMAGES to an .npz.

    \b
    Example:
      stylegan2 swapae encode --network snap.safetensors a.png b.png --out codes.npz
    """
    with user_errors():
        path = encode(network, images, out, force=force, device=device)
    say(f"wrote {path} ({len(images)} image(s))")


@swapae_group.command("decode")
@network_option
@click.option("--codes", required=True, type=UserPath(dir_okay=False, path_type=Path), help="Codes written by `encode`.")
@click.option("--texture-from", type=UserPath(dir_okay=False, path_type=Path),
              help="Take the textures from these codes instead (one for all, or one per structure).")
@outdir_option(decode)
@force_option
@device_option
@quiet_option
def decode_command(network: Path, codes: Path, texture_from: Path | None, outdir: Path, force: bool, device: str | None) -> None:
    """Render saved codes as decodedNNNN.png.

    \b
    Examples:
      stylegan2 swapae decode --network snap.safetensors --codes codes.npz
      stylegan2 swapae decode --network snap.safetensors --codes codes.npz --texture-from sunset.npz
    """
    with user_errors():
        paths = decode(network, codes, outdir, texture_from=texture_from, force=force, device=device)
    say(f"wrote {len(paths)} image(s) to {outdir}")
