"""The style-mixing figure: the column seeds' (or projected ws') styles on the chosen layers, copied onto the rows."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..models import Generator
from ..utils.files import writing
from ..utils.image import image_grid, write_png
from .common import (
    DEFAULT_NOISE_MODE,
    DEFAULT_OUTDIR,
    DEFAULT_TRUNCATION_PSI,
    ClassArg,
    Label,
    Network,
    ToolOptionError,
    check_inputs,
    check_label_options,
    check_noise_mode,
    check_psi,
    class_label,
    load_generator,
    one_class,
    parse_label,
    parse_seeds,
    seed_ws,
)
from .files import check_outputs, output_set
from .generate import load_projected_ws, synthesize, truncate_ws
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


Latents = Sequence[int] | str | torch.Tensor  # seeds, or ws [N, num_ws, w_dim] (projected photos)
MIX_HINT = "the figure's rows take one class"


def label_text(label: Label) -> str:
    """A label vector as the command line writes it: 0.5,0,1."""
    return ",".join(f"{v:g}" for v in parse_label(label))


def check_mix_classes(row_seeds: bool, col_seeds: bool, class_idx: int | None, col_class: int | None,
                      label: Label, col_label: Label = None) -> None:
    """Refuse a --class, --col-class, --label or --col-label that would pick the class or label of no seed (projected
    ws hold theirs) or mix a class into a label vector; what the network takes is checked once it is read."""
    check_label_options(col_class, col_label, "--col-class", "--col-label")
    col_option = "--col-class" if col_class is not None else "--col-label" if col_label is not None else None
    if class_idx is not None or label is not None:
        given = f"--class {class_idx}" if class_idx is not None else f"--label {label_text(label)}"
        option, what = given.split()[0], "class" if class_idx is not None else "label"
        if not row_seeds and not col_seeds:
            raise ToolOptionError(f"{given} picks the {what} of seeds' latents; projected ws hold their {what} already "
                                  f"(project with {option}); leave {option} out")
        if not row_seeds and col_option is not None:
            raise ToolOptionError(f"{given} picks the {what} of the row seeds, but the rows are projected ws (they hold "
                                  f"their {what} already) and {col_option} picks the columns'; leave {option} out")
    if col_option is None:
        return
    col_given, row_option, what = ((f"--col-class {col_class}", "--class", "class") if col_class is not None
                                   else (f"--col-label {label_text(col_label)}", "--label", "label"))
    if not col_seeds:
        raise ToolOptionError(f"{col_given} picks the {what} of the column seeds; the columns are projected ws, "
                              f"which hold their {what} already (project with {row_option}); leave {col_option} out")
    if col_class is not None and label is not None:
        raise ToolOptionError(f"{col_given} is a class, --label a label vector; give the columns a label vector "
                              "with --col-label (without it they take --label), or use --class and --col-class")
    if col_label is not None and class_idx is not None:
        raise ToolOptionError(f"{col_given} is a label vector, --class a class; give the columns a class with "
                              "--col-class (without it they take --class), or use --label and --col-label")


def _axis_ws(G: Generator, latents: Latents, option: str, truncation_psi: float,
             class_idx: int | None, label: Label) -> list[torch.Tensor]:
    """Each row's (or column's) ws [1, num_ws, w_dim]: a seed's, or a given w truncated as generate truncates it."""
    if isinstance(latents, torch.Tensor):
        return list(truncate_ws(G, latents, truncation_psi, None).split(1))
    return [seed_ws(G, s, truncation_psi, None, class_idx, label) for s in parse_seeds(latents, option)]


@torch.no_grad()
def style_mix_images(
    G: Generator,
    row_seeds: Latents,
    col_seeds: Latents,
    styles: str | list[int] | None = None,
    truncation_psi: float = DEFAULT_TRUNCATION_PSI,
    class_idx: int | None = None,
    noise_mode: str = DEFAULT_NOISE_MODE,
    *,
    col_class: int | None = None,
    label: Label = None,
    col_label: Label = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row images [R, H, W, C], column images [K, H, W, C], mixed [R, K, H, W, C]) as uint8. Rows and columns are
    seeds or ws [N, num_ws, w_dim] (projected photos). The row seeds are of class `class_idx` (or take the label
    vector `label`), the column seeds of `col_class` or with the label vector `col_label` (default: the rows'), so
    styles can cross classes."""
    indices = mix_styles(G, styles)
    row_ws = _axis_ws(G, row_seeds, "--rows", truncation_psi, class_idx, label)  # each [1, num_ws, w_dim]
    own = col_class is not None or col_label is not None
    col_ws = _axis_ws(G, col_seeds, "--cols", truncation_psi, col_class if own else class_idx, col_label if own else label)
    rows = np.concatenate([synthesize(G, ws, noise_mode) for ws in row_ws])
    cols = np.concatenate([synthesize(G, ws, noise_mode) for ws in col_ws])
    mixed = []
    for ws_row in row_ws:
        for ws_col in col_ws:
            ws = ws_row.clone()
            ws[:, indices] = ws_col[:, indices]
            mixed.append(synthesize(G, ws, noise_mode))
    mixed = np.concatenate(mixed).reshape(len(row_ws), len(col_ws), *rows.shape[1:])
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
    rows: Sequence[int] | str | None = None,
    cols: Sequence[int] | str | None = None,
    outdir: str | os.PathLike = DEFAULT_OUTDIR,
    *,
    rows_w: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    cols_w: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    styles: str | list[int] | None = None,
    truncation_psi: float = DEFAULT_TRUNCATION_PSI,
    class_idx: ClassArg = None,
    col_class: ClassArg = None,
    label: Label = None,
    col_label: Label = None,
    noise_mode: str = DEFAULT_NOISE_MODE,
    force: bool = False,
    device: str | torch.device | None = None,
) -> Path:
    """Write the style-mixing grid as stylemix.png; `styles` are ws indices, '0-6', or coarse/middle/fine/all.
    Rows and columns are seeds, or the ws of projection files (`rows_w`, `cols_w`: one file or several, in order).
    The seeds are of class `class_idx` (or take the label vector `label`); `col_class` gives the column seeds another
    class (`col_label`: another label vector), whose styles then cross into the rows' class."""
    axes = {}
    for name, seeds, files in (("rows", rows, rows_w), ("cols", cols, cols_w)):
        if (seeds is None) == (files is None):
            raise ToolOptionError(f"give either --{name} or --{name}-w (exactly one of them)")
        if seeds is not None:
            parse_seeds(seeds, f"--{name}")
        axes[name] = seeds if seeds is not None else files
    class_idx = one_class(class_idx, hint=f"{MIX_HINT}; --col-class K gives the columns another class")
    col_class = one_class(col_class, MIX_HINT, "--col-class")
    check_label_options(class_idx, label)
    check_mix_classes(rows is not None, cols is not None, class_idx, col_class, label, col_label)
    check_psi(truncation_psi)
    check_noise_mode(noise_mode)
    G = load_generator(network, device, truncation_psi=truncation_psi)
    own = col_class is not None or col_label is not None  # the column seeds' own class or label
    if rows is not None or (cols is not None and not own):  # seeds of the rows' class
        check_inputs(G, class_idx, label=label)
    if own:
        class_label(G, col_class, col_label, option="--col-class", label_option="--col-label")
    mix_styles(G, styles)
    latents = {name: value if seeds is not None else load_projected_ws(value, G)
               for (name, value), seeds in zip(axes.items(), (rows, cols))}
    path = Path(outdir) / MIX_FILE
    check_outputs([path], force)
    row_images, col_images, mixed = style_mix_images(G, latents["rows"], latents["cols"], styles, truncation_psi,
                                                     class_idx, noise_mode, col_class=col_class, label=label,
                                                     col_label=col_label)
    with output_set([path], force=force) as temps, writing(path):  # a new --outdir goes again if this fails
        write_png(style_mix_grid(row_images, col_images, mixed), temps[0])
    return path
