"""Images from seeds or saved ws: one PNG per seed (as NVIDIA's generate.py names them) or a grid."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..models import Generator
from ..utils.image import image_grid, save_image, to_uint8_nhwc
from ..utils.notes import warn
from ..utils.rng import seeded_global_rng
from .common import (
    Network,
    ToolError,
    check_inputs,
    check_noise_mode,
    check_psi,
    check_truncation_cutoff,
    load_generator,
    network_device,
    parse_grid,
    parse_seeds,
    seed_ws,
)
from .files import check_outputs, read_npz
from .sefa import Directions, load_directions


@torch.no_grad()
def synthesize(G: Generator, ws: torch.Tensor, noise_mode: str = "const", noise_seed: int = 0) -> np.ndarray:
    """ws [N, num_ws, w_dim] -> uint8 images [N, H, W, C]; random noise is drawn from `noise_seed` (the same images
    from any thread: see seeded_global_rng)."""
    device = network_device(G)
    random = check_noise_mode(noise_mode) == "random"
    with seeded_global_rng(device, noise_seed) if random else contextlib.nullcontext():
        return to_uint8_nhwc(G.synthesis(ws.to(device), noise_mode=noise_mode))


@torch.no_grad()
def seed_images(
    G: Network,
    seeds: Sequence[int] | str,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    noise_mode: str = "const",
    directions: Directions | None = None,
    index: int = 0,
    strength: float = 0.0,
) -> np.ndarray:
    """uint8 images [N, H, W, C] for seeds, each rendered alone so it never depends on the other seeds.

    `G` is a Generator or a network file; `directions` (load_directions) moves each w by `strength` along `index`.
    """
    if directions is None and (index != 0 or strength != 0):
        raise ToolError(f"index {index} and strength {strength} move along directions; pass directions=load_directions(path)")
    check_psi(truncation_psi)
    G = load_generator(G)
    images = []
    for seed in parse_seeds(seeds):
        ws = seed_ws(G, seed, truncation_psi, truncation_cutoff, class_idx)  # [1, num_ws, w_dim]
        if directions is not None:
            ws = directions.move(ws, index, strength)
        images.append(synthesize(G, ws, noise_mode, noise_seed=seed))
    return np.concatenate(images)


def truncate_ws(G: Generator, ws: torch.Tensor, truncation_psi: float, truncation_cutoff: int | None) -> torch.Tensor:
    """ws [N, num_ws, w_dim] pulled toward G's average w, as G.mapping truncates (the first `truncation_cutoff` ws)."""
    if truncation_psi == 1:
        return ws
    if G.mapping.w_avg_beta is None:
        raise ToolError("--trunc: this network has no average w, so it cannot be truncated; use 1")
    ws = ws.clone()
    ws[:, :truncation_cutoff] = G.mapping.w_avg.to(ws).lerp(ws[:, :truncation_cutoff], truncation_psi)
    return ws


def load_projected_w(path: str | os.PathLike, G: Generator) -> torch.Tensor:
    """ws [N, num_ws, w_dim] from a projection result (.npz with key 'w', as NVIDIA's projector writes)."""
    path, data = read_npz(path, "--projected-w", "projected w", ("w",))
    if "w" not in data:
        raise ToolError(f"{path}: has no array 'w'; pass a projected_w.npz written by `stylegan2 project`")
    w = torch.from_numpy(data["w"].astype(np.float32))
    if w.ndim != 3 or w.shape[1:] != (G.num_ws, G.w_dim):
        raise ToolError(f"{path}: w has shape {list(w.shape)}, but this network needs [N, {G.num_ws}, {G.w_dim}]; "
                        "was it projected with another network?")
    if not torch.isfinite(w).all():  # would render as black images without a word
        raise ToolError(f"{path}: w holds NaN or infinite values (a projection that diverged?); project the image again")
    return w.to(network_device(G))


def load_projected_ws(files: str | os.PathLike | Sequence[str | os.PathLike], G: Generator) -> torch.Tensor:
    """ws [N, num_ws, w_dim] of one projection file or several, in the order given (a `project` run writes one)."""
    files = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    return torch.cat([load_projected_w(path, G) for path in files])


def check_projected_class(class_idx: int | None) -> None:
    """Refuse --class with projected ws: they hold their class already (`project --class` chose it)."""
    if class_idx is not None:
        raise ToolError(f"--class {class_idx} picks the class of seeds' latents; a projected w holds its class already "
                        "(project with --class); leave --class out")


def image_name(*, seed: int | None = None, proj: int | None = None, index: int | None = None,
               strength: float = 0.0) -> str:
    """The file `generate` writes for a seed, for projected w number `proj`, or (neither) for the grid, moved along
    direction `index` (None: none) by `strength`: seed0012.png, proj00-dir2+1.5.png, grid.png."""
    stem = f"seed{seed:04d}" if seed is not None else f"proj{proj:02d}" if proj is not None else "grid"
    return stem + ("" if index is None else f"-dir{index}{float(strength):+g}") + ".png"


def generate_images(
    network: Network,
    seeds: Sequence[int] | str | None = None,
    outdir: str | os.PathLike = "out",
    *,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    noise_mode: str = "const",
    grid: str | tuple[int, int] | None = None,
    projected_w: str | os.PathLike | None = None,
    direction: str | os.PathLike | Directions | None = None,
    index: int = 0,
    strength: float = 0.0,
    force: bool = False,
    device: str | torch.device | None = None,
) -> list[Path]:
    """Write seedNNNN.png per seed (or projNN.png per saved w), or one grid.png; returns the paths written.

    `direction` (a file from `stylegan2 directions`) moves every w by `strength` along direction `index`.
    Projected ws are truncated as seeds' are (toward the average w, the first `truncation_cutoff` of them).
    """
    if (seeds is None) == (projected_w is None):
        raise ToolError("give either --seeds or --projected-w (exactly one of them)")
    if projected_w is not None:
        check_projected_class(class_idx)
    if direction is None and (index != 0 or strength != 0):
        raise ToolError(f"--index {index} and --strength {strength} move along a direction; give --direction too")
    check_psi(truncation_psi)
    check_noise_mode(noise_mode)
    seeds = parse_seeds(seeds) if seeds is not None else None
    cols_rows = parse_grid(grid) if grid is not None else None
    directions = load_directions(direction) if isinstance(direction, (str, os.PathLike)) else direction
    G = load_generator(network, device, truncation_psi=truncation_psi)
    if seeds is not None:
        check_inputs(G, class_idx, truncation_cutoff)
    else:  # a projected w holds its class: a conditional network needs none
        check_truncation_cutoff(G, truncation_cutoff)
    if directions is not None:
        directions.check(index, G.num_ws, G.w_dim)
    moved = dict(index=index if directions is not None else None, strength=strength)
    outdir = Path(outdir)

    if seeds is not None:
        names = [image_name(seed=seed, **moved) for seed in seeds]
    else:
        ws = load_projected_w(projected_w, G)
        names = [image_name(proj=i, **moved) for i in range(len(ws))]
    if cols_rows is not None:
        if len(names) > cols_rows[0] * cols_rows[1]:
            raise ToolError(f"--grid {cols_rows[0]}x{cols_rows[1]} has {cols_rows[0] * cols_rows[1]} cells for "
                            f"{len(names)} images; enlarge the grid")
        if len(names) < cols_rows[0] * cols_rows[1]:
            warn(f"--grid {cols_rows[0]}x{cols_rows[1]} has {cols_rows[0] * cols_rows[1]} cells for {len(names)} images: "
                 f"the rest ({cols_rows[0] * cols_rows[1] - len(names)}) stay black")
        names = [image_name(**moved)]
    paths = [outdir / name for name in names]
    check_outputs(paths, force)

    if seeds is not None:
        images = seed_images(G, seeds, truncation_psi, truncation_cutoff, class_idx, noise_mode, directions, index, strength)
    else:
        ws = truncate_ws(G, ws, truncation_psi, truncation_cutoff)
        if directions is not None:
            ws = directions.move(ws, index, strength)
        images = np.concatenate([synthesize(G, w[None], noise_mode, noise_seed=i) for i, w in enumerate(ws)])
    if cols_rows is not None:
        return [save_image(image_grid(images, *cols_rows), paths[0])]
    return [save_image(image, path) for path, image in zip(paths, images)]
