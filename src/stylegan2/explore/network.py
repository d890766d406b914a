"""Open a network file as the right explorer: a GAN (sliders over seeds and directions) or a Swapping Autoencoder."""

from __future__ import annotations

import os
from pathlib import Path

from ..io import load_network
from ..models import Generator, SwapEncoder, SwapGenerator
from ..tools.common import ToolError, resolve_device
from ..tools.sefa import factorize, load_directions
from .gan import DirectionSource, GanExplorer
from .swap import SwapExplorer

DEFAULT_TOP_K = 8


def open_explorer(
    network: str | os.PathLike,
    device: str | None = None,
    *,
    directions: str | os.PathLike | None = None,
    layers: str = "all",
    top_k: int = DEFAULT_TOP_K,
    images: str | os.PathLike | None = None,
) -> GanExplorer | SwapExplorer:
    """Load `network` once and wrap it: SeFa directions over `layers` (or read from `directions`) for a GAN,
    the images of the folder `images` to pick from for a Swapping Autoencoder."""
    if top_k < 0:
        raise ToolError(f"--top-k {top_k}: must be 0 or more")
    path = Path(network).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such network file (--network)")
    target = resolve_device(device)
    networks = load_network(path)
    E, G = networks.get("E"), networks.get("G")
    if isinstance(E, SwapEncoder) and isinstance(G, SwapGenerator):
        if directions is not None:
            raise ToolError("--directions: a Swapping Autoencoder has no latent directions; drop --directions")
        explorer = SwapExplorer(E.eval().requires_grad_(False).to(target), G.eval().requires_grad_(False).to(target))
        if images is not None:
            explorer.add_folder(Path(images).expanduser())
        return explorer
    if images is not None:
        raise ToolError("--images: picking input images is for Swapping Autoencoder checkpoints; drop --images")
    G = networks.get("G_ema") if networks.get("G_ema") is not None else G
    if not isinstance(G, Generator):
        found = ", ".join(f"{k} ({type(v).__name__})" for k, v in sorted(networks.items())) or "nothing"
        raise ToolError(f"{path}: holds no stylegan2 Generator or Swapping Autoencoder (found {found})")
    G = G.eval().requires_grad_(False).to(target)  # loaded here: no one else holds it
    if directions is not None:
        found, source = load_directions(directions), DirectionSource(path=str(directions))
    else:
        found, source = factorize(G, layers), DirectionSource(layers=layers)
    return GanExplorer(G, str(path), found, source, top_k)
