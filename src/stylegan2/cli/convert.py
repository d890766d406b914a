"""`stylegan2 convert` and `stylegan2 info`: argument parsing only; the work is in `stylegan2.io` and
`stylegan2.tools.convert`."""

from __future__ import annotations

import json

import click

from ..io import CheckpointError, checkpoint_info, format_info
from ..tools.convert import convert_network
from ..utils.notes import warnings_as_notes
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
        with warnings_as_notes():
            converted = convert_network(src, dst, force=force, weights_only=weights_only,
                                        trust_torchscript=trust_torchscript)
    except (OSError, ValueError, RuntimeError) as exc:  # RuntimeError: a TorchScript file torch cannot load
        raise user_error(exc) from None
    say(f"{dst}: {converted}")


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
