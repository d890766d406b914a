"""`stylegan2 convert` and `stylegan2 info`: argument parsing only; the work is in `stylegan2.io`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..io import CheckpointError, checkpoint_info, convert_checkpoint, format_info
from ..io.detect import is_torchscript_file
from ..io.info import check_convert_destination, nonfinite_tensors, nonfinite_warning
from ..metrics.convert import convert_torchscript, names_nvidia_layers
from .flags import OptionHintsCommand, UserPath, quiet_option, say, user_error


@click.command("convert", cls=OptionHintsCommand)
@click.argument("src", type=UserPath(path_type=str))  # a run directory gets the loader's message
@click.argument("dst", type=UserPath(dir_okay=False, path_type=str))
@click.option("--force", is_flag=True, help="Overwrite DST if it exists.")
@click.option("--weights-only", is_flag=True,
              help="Write the networks alone, without the training state an exact resume needs (less than half the size).")
@click.option("--trust-torchscript", is_flag=True,
              help="Load SRC although it is TorchScript, whose loading runs the code stored in it: for NVIDIA's metric "
                   "networks from nvlabs-fi-cdn.nvidia.com, or another file you trust.")
@quiet_option
def convert_command(src: str, dst: str, force: bool, weights_only: bool, trust_torchscript: bool) -> None:
    """Convert SRC (our format, NVIDIA .pkl or rosinality .pt) to our .safetensors format at DST.

    Also converts NVIDIA's metric networks inception-2015-12-05.pt and vgg16.pt (TorchScript, with
    --trust-torchscript) for `stylegan2 metrics` and `project`, which otherwise convert them on first use.
    """
    try:
        check_convert_destination(src, dst, force=force)
    except (OSError, ValueError) as exc:
        raise user_error(exc) from None
    if is_torchscript_file(Path(src)):
        if not trust_torchscript and names_nvidia_layers(src):  # any other program is refused by the conversion itself
            raise click.ClickException(
                f"{src}: a TorchScript program, and loading TorchScript runs the code stored in it, so it is not "
                "loaded; if it is NVIDIA's inception-2015-12-05.pt or vgg16.pt from nvlabs-fi-cdn.nvidia.com (or "
                "another file you trust), pass --trust-torchscript")
        try:
            kind = convert_torchscript(src, dst)
        except (OSError, ValueError, RuntimeError) as exc:
            raise user_error(exc) from None
        say(f"{dst}: wrote NVIDIA's {kind} network (converted from TorchScript)")
        return
    try:
        ckpt = convert_checkpoint(src, dst, force=force, weights_only=weights_only)
    except (CheckpointError, OSError, ValueError) as exc:
        raise user_error(exc) from None
    say(f"{dst}: wrote {', '.join(ckpt.networks)} (converted from {ckpt.format}"
               + ("; the networks alone)" if weights_only else ")"))
    for note in ckpt.notes:
        click.echo(f"note: {note}")
    bad = nonfinite_tensors(ckpt.networks)
    if bad:
        click.echo(f"warning: {nonfinite_warning(bad)}", err=True)


@click.command("info", cls=OptionHintsCommand)
@click.argument("path", type=UserPath(dir_okay=True, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print the information as JSON.")
@click.option("--verbose", is_flag=True, help="Also list every option a training snapshot's run trained with.")
def info_command(path: str, as_json: bool, verbose: bool) -> None:
    """Show format, networks, sizes, constructor arguments and parameter counts of a network file."""
    try:
        info = checkpoint_info(path)
    except (CheckpointError, OSError) as exc:
        raise user_error(exc) from None
    click.echo(json.dumps(info, indent=2) if as_json else format_info(info, verbose=verbose))
