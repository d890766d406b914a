"""`stylegan2 train`: parse options, resolve the preset, call `stylegan2.training.train`."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Callable

import click

from ..data import DatasetError, ImageDataset, open_dataset
from ..training.ada import AUG_MODES, UNIT_RANGE
from ..training.augment import AUGPIPE_PRESETS
from ..training.config import CFG_NAMES, TrainingOptions, resolve_options
from ..training.distributed import init_distributed
from ..training.loop import TrainingError, train
from ..training.loss import LOSSES


def _default(name: str) -> str:
    """'[default: X]' for a TrainingOptions field whose preset does not set it (one source of truth)."""
    value = next(f.default for f in dataclasses.fields(TrainingOptions) if f.name == name)
    return f"  [default: {value}]"


def _metric_list(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    if value is None or value.lower() == "none":
        return None if value is None else []
    return [m.strip() for m in value.split(",") if m.strip()]


@click.command("train")
@click.option("--data", required=True, help="Dataset: zip, folder, .npz, or builtin:shapes.")
@click.option("--outdir", default="training-runs", show_default=True, help="Where run directories are created.")
@click.option("--cfg", type=click.Choice(CFG_NAMES), default="auto", show_default=True, help="Base configuration.")
@click.option("--cond", is_flag=True, help="Train a class-conditional model on the dataset's labels.")
@click.option("--mirror", is_flag=True, help="Add x-flipped copies of the images.")
@click.option("--max-size", type=click.IntRange(min=1), help="Use at most this many images (a fixed random subset).")
@click.option("--resolution", type=int, help="Pad smaller images (npz, folders) to this power-of-two size.")
@click.option("--skip-bad", is_flag=True, help="Skip unreadable images with a warning instead of stopping.")
@click.option("--kimg", type=click.FloatRange(min=0, min_open=True), help="Training length in thousands of real images.")
@click.option("--batch", type=click.IntRange(min=1), help="Total batch size (all processes).")
@click.option("--batch-gpu", type=click.IntRange(min=1), help="Images per forward pass; smaller values accumulate gradients.")
@click.option("--loss", type=click.Choice(list(LOSSES)),
              help="Objective: stylegan2 (NVIDIA's logistic loss + R1) or r3gan (relativistic pairing + R1 + R2).  [default: the preset's]")
@click.option("--gamma", type=click.FloatRange(min=0), help="R1 regularization weight (R1 and R2 each, with --loss r3gan).")
@click.option("--glr", type=click.FloatRange(min=0, min_open=True), help="Generator learning rate.")
@click.option("--dlr", type=click.FloatRange(min=0, min_open=True), help="Discriminator learning rate.")
@click.option("--map", "map_layers", type=click.IntRange(min=1), help="Number of mapping network layers.")
@click.option("--cbase", type=click.IntRange(min=1), help="Channel base: channels at resolution r are cbase / r (capped).")
@click.option("--cmax", type=click.IntRange(min=1), help="Maximum channels per layer.")
@click.option("--mbstd", type=click.IntRange(min=1), help="Minibatch standard deviation group size.")
@click.option("--pack", type=click.IntRange(min=1),
              help="D judges this many images at once (PacGAN; fights mode collapse). 1 = the official D.")
@click.option("--clusters", type=click.IntRange(min=0),
              help="Unlabeled data: train on this many k-means clusters of the images as classes (self-conditioning; "
                   "covers modes an unconditional run drops). 0 = off.  [default: the preset's]")
@click.option("--fp32", is_flag=True, default=None, help="Disable mixed precision (fp16 layers).")
@click.option("--freezed", type=click.IntRange(min=0), help="Freeze the first N layers of D (transfer learning).")
@click.option("--aug", type=click.Choice(AUG_MODES), help="Augmentation mode." + _default("aug"))
@click.option("--augpipe", type=click.Choice(list(AUGPIPE_PRESETS)), help="Augmentation pipeline preset." + _default("augpipe"))
@click.option("--p", "aug_p", type=click.FloatRange(*UNIT_RANGE), help="Augmentation probability for --aug fixed.")
@click.option("--target", type=click.FloatRange(*UNIT_RANGE), help="ADA target for r_t = E[sign(D(real))]." + _default("target"))
@click.option("--ada-kimg", type=click.FloatRange(min=0, min_open=True), help="ADA speed: kimg for p to move by 1." + _default("ada_kimg"))
@click.option("--metrics", callback=_metric_list, help="Comma-separated metrics to evaluate at each snapshot, or none.")
@click.option("--seed", type=int, help="Random seed." + _default("seed"))
@click.option("--tick", type=click.FloatRange(min=0, min_open=True), help="kimg between progress lines." + _default("tick"))
@click.option("--snap", type=click.IntRange(min=1), help="Ticks between snapshots and image grids." + _default("snap"))
@click.option("--workers", type=click.IntRange(min=0),
              help="Data loader worker processes.  [default: 0 when training on the CPU, else up to 3]")
@click.option("--resume", type=click.Path(dir_okay=False), help="Continue a run from our snapshot, or fine-tune any network file.")
@click.option("--device", help="cpu, cuda, or cuda:N.  [default: cuda when available]")
@click.option("--dry-run", is_flag=True, help="Print the resolved options and exit.")
def train_command(data: str, outdir: str, cfg: str, device: str | None, dry_run: bool, map_layers: int | None,
                  aug_p: float | None, **overrides) -> None:
    """Train a StyleGAN2 on a dataset (the official StyleGAN2-ADA recipe).

    \b
    Examples:
      stylegan2 train --data builtin:shapes --cfg cpu --kimg 20
      stylegan2 train --data ~/datasets/ffhq256.zip --cfg paper256 --mirror
      torchrun --nproc_per_node=4 -m stylegan2 train --data ffhq.zip --cfg stylegan2 --batch 32
    """
    overrides.update(map=map_layers, p=aug_p, outdir=outdir)

    def resolve() -> tuple[ImageDataset, TrainingOptions]:
        ctx = init_distributed(device)
        dataset = open_dataset(data, resolution=overrides.get("resolution"), max_size=overrides.get("max_size"),
                               use_labels=bool(overrides.get("cond")), mirror=bool(overrides.get("mirror")),
                               skip_bad=bool(overrides.get("skip_bad")), seed=overrides.get("seed") or 0)
        return dataset, resolve_options(data, cfg, dataset.resolution, ctx.world_size, overrides, device_type=ctx.device.type)

    run_training_command(resolve, lambda options, dataset: train(options, device=device, dataset=dataset), dry_run)


def run_training_command(resolve: Callable[[], tuple[ImageDataset, Any]], run: Callable[[Any, ImageDataset], object],
                         dry_run: bool) -> None:
    """Open the dataset and resolve the options (errors become one-line messages), print them for
    --dry-run, else train; Ctrl-C exits with status 130 after the loop's final snapshot."""
    try:
        dataset, options = resolve()
    except (DatasetError, ValueError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from None
    if dry_run:
        click.echo(json.dumps(options.to_json(), indent=2))
        return
    try:
        run(options, dataset)
    except (TrainingError, DatasetError, ValueError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
