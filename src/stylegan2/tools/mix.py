"""The style-mixing figure: the column seeds' styles on the chosen layers, copied onto the row seeds."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..models import Generator
from ..utils.image import image_grid, save_image
from .common import Network, check_inputs, check_noise_mode, check_psi, load_generator, parse_seeds, seed_ws
from .files import check_outputs
from .generate import synthesize
from .sefa import select_ws_indices

MIX_FILE = "stylemix.png"
DEFAULT_MIX_STYLES = 7  # NVIDIA's style_mixing.py copies ws 0-6 from the column seeds


def default_styles(num_ws: int) -> list[int]:
    """The ws a second seed gives by default: NVIDIA's 0-6, clipped to a network's num_ws."""
    return list(range(min(DEFAULT_MIX_STYLES, num_ws)))


def mix_styles(G: Generator, styles: str | list[int] | None) -> list[int]:
    """ws indices to take from the columns (default: `default_styles`)."""
    if styles is None:
        return default_styles(G.num_ws)
    return select_ws_indices(G, styles, "--styles")


@torch.no_grad()
def style_mix_images(
    G: Generator,
    row_seeds: Sequence[int] | str,
    col_seeds: Sequence[int] | str,
    styles: str | list[int] | None = None,
    truncation_psi: float = 1.0,
    class_idx: int | None = None,
    noise_mode: str = "const",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row images [R, H, W, C], column images [K, H, W, C], mixed [R, K, H, W, C]) as uint8."""
    row_seeds = parse_seeds(row_seeds, "--rows")
    col_seeds = parse_seeds(col_seeds, "--cols")
    indices = mix_styles(G, styles)
    row_ws = [seed_ws(G, s, truncation_psi, None, class_idx) for s in row_seeds]  # each [1, num_ws, w_dim]
    col_ws = [seed_ws(G, s, truncation_psi, None, class_idx) for s in col_seeds]
    rows = np.concatenate([synthesize(G, ws, noise_mode) for ws in row_ws])
    cols = np.concatenate([synthesize(G, ws, noise_mode) for ws in col_ws])
    mixed = []
    for ws_row in row_ws:
        for ws_col in col_ws:
            ws = ws_row.clone()
            ws[:, indices] = ws_col[:, indices]
            mixed.append(synthesize(G, ws, noise_mode))
    mixed = np.concatenate(mixed).reshape(len(row_seeds), len(col_seeds), *rows.shape[1:])
    return rows, cols, mixed


def style_mix_grid(rows: np.ndarray, cols: np.ndarray, mixed: np.ndarray) -> np.ndarray:
    """The figure: column images along the top, row images down the left, mixes inside, black corner."""
    num_rows, num_cols = mixed.shape[:2]
    cells = np.zeros([num_rows + 1, num_cols + 1, *rows.shape[1:]], dtype=np.uint8)
    cells[0, 1:] = cols
    cells[1:, 0] = rows
    cells[1:, 1:] = mixed
    return image_grid(cells.reshape(-1, *rows.shape[1:]), cols=num_cols + 1, rows=num_rows + 1)


def style_mix(
    network: Network,
    rows: Sequence[int] | str,
    cols: Sequence[int] | str,
    outdir: str | os.PathLike = "out",
    *,
    styles: str | list[int] | None = None,
    truncation_psi: float = 1.0,
    class_idx: int | None = None,
    noise_mode: str = "const",
    force: bool = False,
    device: str | torch.device | None = None,
) -> Path:
    """Write the style-mixing grid as stylemix.png; `styles` are ws indices, '0-6', or coarse/middle/fine/all."""
    parse_seeds(rows, "--rows")
    parse_seeds(cols, "--cols")
    check_psi(truncation_psi)
    check_noise_mode(noise_mode)
    G = load_generator(network, device, truncation_psi=truncation_psi)
    check_inputs(G, class_idx)
    mix_styles(G, styles)
    path = Path(outdir) / MIX_FILE
    check_outputs([path], force)
    row_images, col_images, mixed = style_mix_images(G, rows, cols, styles, truncation_psi, class_idx, noise_mode)
    return save_image(style_mix_grid(row_images, col_images, mixed), path)
