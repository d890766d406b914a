"""`stylegan2 explore`: argument parsing only; see stylegan2.explore."""

from __future__ import annotations

from pathlib import Path

import click

from ..explore import DEFAULT_HOST, DEFAULT_PORT
from ..explore.network import DEFAULT_LAYERS, DEFAULT_TOP_K
from ..explore.uploads import DEFAULT_MAX_UPLOAD_MB
from .flags import FiniteFloatRange, UserPath, device_option
from .tools import network_option, user_errors

EXTRA_HINT = "stylegan2 explore needs Flask: pip install \"stylegan2[explore]\""


@click.command("explore")
@network_option
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Address to listen on; anything but 127.0.0.1/localhost lets other machines in.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True, help="Port (0: any free port).")
@device_option
@click.option("--directions", type=UserPath(dir_okay=False, path_type=Path),
              help="Directions file from `stylegan2 directions` [default: SeFa computed on load].")
@click.option("--layers", help="ws indices SeFa factorizes when computing directions on load, e.g. 0-3, or "
                                "coarse/middle/fine/all (not with --directions) "
                                f"[default: {DEFAULT_LAYERS}].")
@click.option("--top-k", type=click.IntRange(min=0), help=f"Direction sliders shown [default: {DEFAULT_TOP_K}].")
@click.option("--images", type=UserPath(file_okay=False, path_type=Path),
              help="Swapping Autoencoder: a folder of images to pick structure and texture from.")
@click.option("--projected-w", "--projected_w", "projected_w", type=UserPath(dir_okay=False, path_type=Path),
              help="Start from the ws of a projected_w.npz (from `stylegan2 project`) instead of seeds.")
@click.option("--max-upload-mb", type=FiniteFloatRange(min=0, min_open=True), default=DEFAULT_MAX_UPLOAD_MB, show_default=True,
              help="Largest image upload accepted (Swapping Autoencoder view).")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="A name of this machine the browser may use besides IP addresses and localhost (repeatable); "
                   "other names are refused against DNS rebinding.")
def explore_command(network: Path, host: str, port: int, device: str | None, directions: Path | None,
                    layers: str | None, top_k: int | None, images: Path | None, projected_w: Path | None,
                    max_upload_mb: float, allow_hosts: tuple[str, ...]) -> None:
    """Explore a network in the browser: seeds, truncation, style mixing and SeFa directions, live.

    A Swapping Autoencoder checkpoint opens a view that swaps structure and texture between images.

    \b
    Examples:
      stylegan2 explore --network ffhq.pkl
      stylegan2 explore --network ffhq.pkl --directions out/directions.npz --top-k 4
      stylegan2 explore --network ffhq.pkl --projected-w out/projected_w.npz
      stylegan2 explore --network swapae-snapshot.safetensors --images photos/
    """
    try:
        from stylegan2.explore.server import run_explorer
    except ModuleNotFoundError as err:
        if err.name not in ("flask", "werkzeug"):
            raise
        raise click.ClickException(EXTRA_HINT) from err
    with user_errors():
        run_explorer(network, host=host, port=port, device=device, directions=directions, layers=layers, top_k=top_k,
                     images=images, projected_w=projected_w, max_upload_mb=max_upload_mb, allow_hosts=allow_hosts, announce=click.echo)
