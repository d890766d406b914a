"""`stylegan2 swapae train | swap | encode | decode`: argument parsing only; see stylegan2.swapae."""

from __future__ import annotations

from pathlib import Path

import click

from ..data import ImageDataset, open_dataset
from ..swapae.config import SWAPAE_CFG_NAMES, SwapAEOptions, resolve_swapae_options
from ..swapae.tools import decode, encode, swap
from ..swapae.training import train_swapae
from ..training.distributed import init_distributed
from .tools import user_errors
from .train import run_training_command


class GreedyOptionsCommand(click.Command):
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


@click.group("swapae")
def swapae_group() -> None:
    """Swapping Autoencoder (Park et al. 2020): structure and texture codes, swapped between images."""


@swapae_group.command("train")
@click.option("--data", required=True, help="Dataset: zip, folder, .npz, or builtin:shapes.")
@click.option("--outdir", default="training-runs", show_default=True, help="Where run directories are created.")
@click.option("--cfg", type=click.Choice(SWAPAE_CFG_NAMES), default="cpu", show_default=True,
              help="Preset: cpu (32 px on a CPU), 256 or 512 (the paper's settings, GPUs).")
@click.option("--mirror", is_flag=True, default=None, help="Add x-flipped copies of the images.")
@click.option("--max-size", type=click.IntRange(min=1), help="Use at most this many images (a fixed random subset).")
@click.option("--resolution", type=int, help="Pad smaller images (npz, folders) to this size; builtin:shapes renders at it.")
@click.option("--kimg", type=click.FloatRange(min=0, min_open=True), help="Training length in thousands of real images.")
@click.option("--batch", type=click.IntRange(min=2), help="Total batch size (all processes).")
@click.option("--batch-gpu", type=click.IntRange(min=2), help="Images per forward pass; smaller values accumulate gradients.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Adam learning rate of all networks.")
@click.option("--lambda-l1", type=click.FloatRange(min=0), help="Weight of the L1 reconstruction loss (cpu preset 4, paper 1).")
@click.option("--lambda-gan-rec", type=click.FloatRange(min=0), help="Weight of the GAN loss on reconstructions.  [default: 0.5]")
@click.option("--lambda-gan-swap", type=click.FloatRange(min=0), help="Weight of the GAN loss on swapped images.  [default: 1]")
@click.option("--lambda-patch", type=click.FloatRange(min=0), help="Weight of the patch co-occurrence GAN loss.  [default: 1]")
@click.option("--lambda-l2", type=click.FloatRange(min=0),
              help="Weight of a squared-error reconstruction loss (ours, not the paper's; cpu preset 32, others 0).")
@click.option("--recolor-structure/--no-recolor-structure", default=None,
              help="Take training images' structure codes from recoloured copies (ours; on in the cpu preset only).")
@click.option("--r1-gamma", type=click.FloatRange(min=0), help="R1 weight of the image discriminator.")
@click.option("--patch-r1-gamma", type=click.FloatRange(min=0), help="R1 weight of the patch discriminator.")
@click.option("--r1-interval", type=click.IntRange(min=1), help="Minibatches between lazy R1 steps.  [default: 16]")
@click.option("--spatial-code-ch", type=click.IntRange(min=1), help="Channels of the structure code (set by --cfg).")
@click.option("--global-code-ch", type=click.IntRange(min=1), help="Dimensions of the texture code.")
@click.option("--netE-num-downsampling-sp", "num_downsampling_sp", type=click.IntRange(min=1),
              help="Halvings from the image to the structure code.")
@click.option("--netE-num-downsampling-gl", "num_downsampling_gl", type=click.IntRange(min=0),
              help="Further stride-2 convolutions before the texture code.  [default: 2]")
@click.option("--noise/--no-noise", "use_noise", default=None, help="Per-pixel noise inputs in G (off in the cpu preset).")
@click.option("--patch-size", type=click.IntRange(min=1), help="Side of the patches the co-occurrence discriminator sees.")
@click.option("--num-patches", type=click.IntRange(min=1), help="Patches per image for the co-occurrence loss (set by --cfg).")
@click.option("--cbase", type=click.IntRange(min=1), help="Channel base: channels at resolution r are cbase / r (capped).")
@click.option("--cmax", type=click.IntRange(min=1), help="Maximum channels per layer.")
@click.option("--seed", type=int, help="Random seed.  [default: 0]")
@click.option("--tick", type=click.FloatRange(min=0, min_open=True), help="kimg between progress lines.")
@click.option("--snap", type=click.IntRange(min=1), help="Ticks between snapshots and image grids.")
@click.option("--workers", type=click.IntRange(min=0), help="Data loader worker processes.  [default: 3]")
@click.option("--resume", type=click.Path(dir_okay=False), help="Continue a run from its snapshot (or start from its weights).")
@click.option("--device", help="cpu, cuda, or cuda:N.  [default: cuda when available]")
@click.option("--dry-run", is_flag=True, help="Print the resolved options and exit.")
def train_command(data: str, cfg: str, device: str | None, dry_run: bool, **overrides) -> None:
    """Train a Swapping Autoencoder: snapshots, logs and grids in OUTDIR/NNNNN-<data>-swapae-<cfg>/.

    \b
    Examples:
      stylegan2 swapae train --data builtin:shapes --cfg cpu --kimg 50
      stylegan2 swapae train --data ~/datasets/church256.zip --cfg 256 --mirror
      torchrun --nproc_per_node=4 -m stylegan2 swapae train --data ffhq512.zip --cfg 512
    """

    def resolve() -> tuple[ImageDataset, SwapAEOptions]:
        ctx = init_distributed(device)
        dataset = open_dataset(data, resolution=overrides.get("resolution"), max_size=overrides.get("max_size"),
                               mirror=bool(overrides.get("mirror")), seed=overrides.get("seed") or 0)
        return dataset, resolve_swapae_options(data, cfg, dataset.resolution, ctx.world_size, overrides)

    run_training_command(resolve, lambda options, dataset: train_swapae(options, device=device, dataset=dataset), dry_run)


network_option = click.option("--network", required=True, type=click.Path(dir_okay=False, path_type=Path),
                              help="A snapshot of `stylegan2 swapae train` (E and G are used).")
device_option = click.option("--device", help="cpu, cuda or cuda:N [default: cuda if available].")
force_option = click.option("--force", is_flag=True, help="Overwrite existing outputs.")
outdir_option = click.option("--outdir", default="out", show_default=True, type=click.Path(file_okay=False, path_type=Path),
                             help="Where to write the images.")


@swapae_group.command("swap", cls=GreedyOptionsCommand)
@network_option
@click.option("--structure", required=True, multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Images that give the layout (rows); several may follow the flag.")
@click.option("--texture", required=True, multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Images that give the look (columns); several may follow the flag.")
@click.option("--alpha", type=float, default=1.0, show_default=True,
              help="0 keeps the structure image's own texture, 1 takes the texture image's; between interpolates.")
@outdir_option
@force_option
@device_option
def swap_command(network: Path, structure: tuple[Path, ...], texture: tuple[Path, ...], alpha: float, outdir: Path,
                 force: bool, device: str | None) -> None:
    """Every structure image with every texture image: swap_grid.png (inputs on the borders) and swap_sII_tJJ.png.

    \b
    Examples:
      stylegan2 swapae swap --network snap.safetensors --structure a.png b.png --texture c.png d.png
      stylegan2 swapae swap --network snap.safetensors --structure a.png --texture c.png --alpha 0.5
    """
    with user_errors():
        paths = swap(network, structure, texture, outdir, alpha=alpha, force=force, device=device)
    click.echo(f"wrote {paths[0]} and {len(paths) - 1} swapped image(s) to {outdir}")


@swapae_group.command("encode")
@network_option
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", default="codes.npz", show_default=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The .npz to write: structure, texture and names arrays.")
@force_option
@device_option
def encode_command(network: Path, images: tuple[Path, ...], out: Path, force: bool, device: str | None) -> None:
    """Save the structure and texture codes of IMAGES to an .npz.

    \b
    Example:
      stylegan2 swapae encode --network snap.safetensors a.png b.png --out codes.npz
    """
    with user_errors():
        path = encode(network, images, out, force=force, device=device)
    click.echo(f"wrote {path} ({len(images)} image(s))")


@swapae_group.command("decode")
@network_option
@click.option("--codes", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Codes written by `encode`.")
@click.option("--texture-from", type=click.Path(dir_okay=False, path_type=Path),
              help="Take the textures from these codes instead (one for all, or one per structure).")
@outdir_option
@force_option
@device_option
def decode_command(network: Path, codes: Path, texture_from: Path | None, outdir: Path, force: bool, device: str | None) -> None:
    """Render saved codes as decodedNNNN.png.

    \b
    Examples:
      stylegan2 swapae decode --network snap.safetensors --codes codes.npz
      stylegan2 swapae decode --network snap.safetensors --codes codes.npz --texture-from sunset.npz
    """
    with user_errors():
        paths = decode(network, codes, outdir, texture_from=texture_from, force=force, device=device)
    click.echo(f"wrote {len(paths)} image(s) to {outdir}")
