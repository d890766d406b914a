"""Open a network file as the right explorer: a GAN (sliders over seeds and directions) or a Swapping Autoencoder."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..io import load_network
from ..io.pretrained import existing_network_file
from ..models import Generator, SwapEncoder, SwapGenerator
from ..tools.common import ToolError, resolve_device
from ..tools.generate import load_projected_w
from ..tools.sefa import Directions, factorize, load_directions
from .gan import DirectionSource, GanExplorer
from .swap import SwapExplorer

DEFAULT_TOP_K = 8
DEFAULT_LAYERS = "all"


def open_explorer(
    network: str | os.PathLike,
    device: str | None = None,
    *,
    directions: str | os.PathLike | None = None,
    layers: str | None = None,
    top_k: int | None = None,
    images: str | os.PathLike | None = None,
    projected_w: str | os.PathLike | None = None,
) -> GanExplorer | SwapExplorer:
    """Load `network` once and wrap it: `top_k` SeFa directions over `layers` (or read from `directions`) for a GAN,
    starting from seeds or from the ws of `projected_w` (a `stylegan2 project` result); the images of the folder
    `images` to pick from for a Swapping Autoencoder.

    An option that the network's kind would ignore is refused (None leaves it unset: layers 'all', top_k 8)."""
    if top_k is not None and top_k < 0:
        raise ToolError(f"--top-k {top_k}: must be 0 or more")
    path = existing_network_file(network)
    target = resolve_device(device)
    networks = load_network(path)
    E, G = networks.get("E"), networks.get("G")
    if isinstance(E, SwapEncoder) and isinstance(G, SwapGenerator):
        if projected_w is not None:
            raise ToolError("--projected-w: a Swapping Autoencoder has no w; drop --projected-w (upload the photo "
                            "with --images instead)")
        return open_swap_explorer(E, G, str(path), target, directions, layers, top_k, images)
    if images is not None:
        raise ToolError("--images: picking input images is for Swapping Autoencoder checkpoints; drop --images")
    G = networks.get("G_ema") if networks.get("G_ema") is not None else G
    if not isinstance(G, Generator):
        found = ", ".join(f"{k} ({type(v).__name__})" for k, v in sorted(networks.items())) or "nothing"
        raise ToolError(f"{path}: holds no stylegan2 Generator or Swapping Autoencoder (found {found})")
    G = G.eval().requires_grad_(False).to(target)  # loaded here: no one else holds it
    projected = load_projected_w(projected_w, G) if projected_w is not None else None
    if directions is not None and layers is not None:
        raise ToolError("--layers: the directions of --directions act on the layers they were computed for; "
                        "drop --layers (or pass it to `stylegan2 directions`)")
    layers = DEFAULT_LAYERS if layers is None else layers
    if directions is not None:
        found, source = read_directions(directions, G), DirectionSource(path=str(directions))
    else:
        found, source = factorize(G, layers), DirectionSource(layers=layers)
    return GanExplorer(G, str(path), found, source, DEFAULT_TOP_K if top_k is None else top_k, projected,
                       None if projected_w is None else str(projected_w))


def open_swap_explorer(E: SwapEncoder, G: SwapGenerator, network: str, device: torch.device,
                       directions: str | os.PathLike | None, layers: str | None, top_k: int | None,
                       images: str | os.PathLike | None) -> SwapExplorer:
    """The Swapping Autoencoder's explorer; the GAN's direction options are refused, as it has no latent directions."""
    given = [option for option, value in (("--directions", directions), ("--layers", layers), ("--top-k", top_k))
             if value is not None]
    if given:
        raise ToolError(f"{given[0]}: a Swapping Autoencoder has no latent directions; drop {' and '.join(given)}")
    explorer = SwapExplorer(E.eval().requires_grad_(False).to(device), G.eval().requires_grad_(False).to(device),
                           network)
    if images is not None:
        explorer.add_folder(Path(images).expanduser())
    return explorer


def read_directions(path: str | os.PathLike, G: Generator) -> Directions:
    """The directions file given as --directions, checked to hold directions that fit G."""
    found = load_directions(path, "--directions")
    if found.directions.ndim != 2 or not len(found.directions) or not found.layers:
        raise ToolError(f"{path}: holds no directions (--directions); create the file with `stylegan2 directions`")
    w_dim, last = found.directions.shape[1], max(found.layers)
    if w_dim != G.w_dim or last >= G.num_ws:
        raise ToolError(f"{path}: the directions were computed for w_dim {w_dim} and at least {last + 1} ws, but this "
                        f"network has w_dim {G.w_dim} and {G.num_ws} ws (--directions); compute them for this network "
                        "with `stylegan2 directions`")
    return found
