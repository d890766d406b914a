"""Images from seeds or saved ws: one PNG per seed (as NVIDIA's generate.py names them) or a grid."""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from ..models import Generator
from ..utils.files import OutputAppearedError, new_folders_removed_on_failure
from ..utils.image import GridCanvas, save_image, to_uint8_nhwc
from ..utils.notes import warn
from ..utils.progress import progress_bar
from ..utils.rng import seeded_global_rng
from ..utils.text import number_ranges, plural
from .common import (
    DEFAULT_NOISE_MODE,
    DEFAULT_OUTDIR,
    DEFAULT_TRUNCATION_PSI,
    SEEDS_OR_PROJECTED_W,
    ClassArg,
    Label,
    Network,
    ToolError,
    ToolOptionError,
    check_inputs,
    check_label_options,
    check_noise_mode,
    check_psi,
    check_truncation_cutoff,
    load_generator,
    network_device,
    parse_classes,
    parse_grid,
    parse_seeds,
    seed_ws,
)
from .files import OutputExistsError, check_outputs, failed_write, read_npz, unchanged
from .sefa import Directions, load_directions


@torch.no_grad()
def synthesize(G: Generator, ws: torch.Tensor, noise_mode: str = DEFAULT_NOISE_MODE, noise_seed: int = 0) -> np.ndarray:
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
    truncation_psi: float = DEFAULT_TRUNCATION_PSI,
    truncation_cutoff: int | None = None,
    class_idx: ClassArg = None,
    noise_mode: str = DEFAULT_NOISE_MODE,
    directions: Directions | None = None,
    index: int = 0,
    strength: float = 0.0,
    label: Label = None,
) -> np.ndarray:
    """uint8 images [N, H, W, C] for seeds, each rendered alone so it never depends on the other seeds.

    `G` is a Generator or a network file; `directions` (load_directions) moves each w by `strength` along `index`.
    Several classes (`class_idx` [0, 3] or '0-9') give every seed in each class, class by class. `label`: a label
    vector instead of a class. All images are held at once; `generate_images` writes them to files one by one instead.
    """
    if directions is None and (index != 0 or strength != 0):
        raise ToolOptionError(f"index {index} and strength {strength} move along directions; pass directions=load_directions(path)")
    check_psi(truncation_psi)
    check_label_options(class_idx, label)
    G = load_generator(G, truncation_psi=truncation_psi)
    return np.stack(list(each_seed_image(G, seed_classes(parse_seeds(seeds), parse_classes(class_idx)), truncation_psi,
                                         truncation_cutoff, noise_mode, directions, index, strength, label)))


def seed_classes(seeds: Sequence[int], classes: Sequence[int | None]) -> list[tuple[int, int | None]]:
    """(seed, class) for every seed in each class, class by class: a grid's row (of as many columns as seeds) is a
    class."""
    return [(seed, c) for c in classes for seed in seeds]


@torch.no_grad()
def each_seed_image(G: Generator, seed_class: Sequence[tuple[int, int | None]], truncation_psi: float,
                    truncation_cutoff: int | None, noise_mode: str, directions: Directions | None, index: int,
                    strength: float, label: Label = None) -> Iterator[np.ndarray]:
    """uint8 [H, W, C] per (seed, class), rendered alone and yielded before the next is begun (memory stays flat)."""
    for seed, class_idx in seed_class:
        ws = seed_ws(G, seed, truncation_psi, truncation_cutoff, class_idx, label)  # [1, num_ws, w_dim]
        if directions is not None:
            ws = directions.move(ws, index, strength)
        yield synthesize(G, ws, noise_mode, noise_seed=seed)[0]


def each_projected_image(G: Generator, ws: torch.Tensor, noise_mode: str) -> Iterator[np.ndarray]:
    """uint8 [H, W, C] per w of ws [N, num_ws, w_dim], rendered alone (random noise drawn from its number)."""
    for i, w in enumerate(ws):
        yield synthesize(G, w[None], noise_mode, noise_seed=i)[0]


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


def check_projected_class(class_idx: ClassArg, label: Label = None) -> None:
    """Refuse --class and --label with projected ws: they hold their class already (`project --class` chose it)."""
    for option, value, what in (("--class", class_idx, "class"), ("--label", label, "label")):
        if value is not None:
            shown = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value
            raise ToolOptionError(f"{option} {shown} picks the {what} of seeds' latents; a projected w holds its {what} "
                                  f"already (project with {option}); leave {option} out")


def class_digits(c_dim: int) -> int:
    """Digits of the class in file names: enough for c_dim's classes, at least 2 (class03), so they sort in order."""
    return max(2, len(str(c_dim - 1)))


def image_name(*, seed: int | None = None, proj: int | None = None, class_idx: int | None = None, c_dim: int = 0,
               index: int | None = None, strength: float = 0.0) -> str:
    """The file `generate` writes for a seed (of class `class_idx` when several are rendered: None leaves it out, as
    NVIDIA's generate.py names files), for projected w number `proj`, or (neither) for the grid, moved along
    direction `index` (None: none) by `strength`: seed0012.png, seed0012-class03.png, proj00-dir2+1.5.png, grid.png."""
    stem = f"seed{seed:04d}" if seed is not None else f"proj{proj:02d}" if proj is not None else "grid"
    if class_idx is not None:
        stem += f"-class{class_idx:0{class_digits(c_dim)}d}"
    return stem + ("" if index is None else f"-dir{index}{float(strength):+g}") + ".png"


def fitting_grid(count: int, cols: int, rows: int) -> str:
    """A grid for `count` images with no empty row: one row stays one row, else the given columns where they fit,
    else about square."""
    if rows == 1:
        return f"{count}x1"
    if cols <= count:
        return f"{cols}x{math.ceil(count / cols)}"
    side = math.ceil(math.sqrt(count))
    return f"{side}x{math.ceil(count / side)}"


def check_grid(cols: int, rows: int, count: int, fits: str | None = None) -> None:
    """Refuse a grid too small for `count` images, or one that leaves a whole row (in one row: columns) empty, naming
    one that fits (`fits`, else fitting_grid's): a typo such as 100x100 would allocate a canvas of black cells."""
    cells = cols * rows
    too_large = (rows - 1) * cols >= count if rows > 1 else cols > count
    if count > cells or too_large:
        raise ToolOptionError(f"--grid {cols}x{rows} has {plural(cells, 'cell')} for {plural(count, 'image')}; "
                        f"use {fits or fitting_grid(count, cols, rows)}")
    if count < cells:
        warn(f"--grid {cols}x{rows} has {plural(cells, 'cell')} for {plural(count, 'image')}: "
             f"the rest ({cells - count}) stay black")


def grid_canvas(G: Generator, cols: int, rows: int) -> GridCanvas:
    """The empty grid image for G's images, allocated before any is rendered."""
    try:
        return GridCanvas(cols, rows, G.img_height, G.img_width, G.img_channels)
    except MemoryError:
        raise ToolError(f"--grid {cols}x{rows}: its {cols * G.img_width}x{rows * G.img_height} px image does not fit "
                        "in memory; use a smaller grid, or leave --grid out for one PNG per image") from None


def moving_options(index: int, strength: float) -> str:
    """The direction options that were given (not at their defaults), for the message that --direction is missing."""
    given = [f"--index {index}"] * (index != 0) + [f"--strength {strength:g}"] * (strength != 0)
    return " and ".join(given)


def generate_images(
    network: Network,
    seeds: Sequence[int] | str | None = None,
    outdir: str | os.PathLike = DEFAULT_OUTDIR,
    *,
    truncation_psi: float = DEFAULT_TRUNCATION_PSI,
    truncation_cutoff: int | None = None,
    class_idx: ClassArg = None,
    label: Label = None,
    noise_mode: str = DEFAULT_NOISE_MODE,
    grid: str | tuple[int, int] | None = None,
    projected_w: str | os.PathLike | None = None,
    direction: str | os.PathLike | Directions | None = None,
    index: int = 0,
    strength: float = 0.0,
    force: bool = False,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> list[Path]:
    """Write seedNNNN.png per seed (or projNN.png per saved w), or one grid.png; returns the paths written.

    Several classes (`class_idx` [0, 3] or '0-9') render every seed in each, class by class (a grid row per class
    when it has as many columns as seeds), named seedNNNN-classKK.png; one class keeps NVIDIA's seedNNNN.png.
    `label`: a label vector (c_dim numbers) in place of a class, for networks trained on label vectors.

    Each image is written as soon as it is rendered, so memory does not grow with the seed count and an interrupted
    run keeps the images it wrote (a grid holds only its canvas); a new `outdir` goes again if the first image fails.
    `progress`: a bar on a terminal.
    `direction` (a file from `stylegan2 directions`) moves every w by `strength` along direction `index`.
    Projected ws are truncated as seeds' are (toward the average w, the first `truncation_cutoff` of them).
    """
    seeds, classes, cols_rows = _parse_options(seeds, projected_w, class_idx, label, direction, index, strength,
                                               truncation_psi, noise_mode, grid)
    directions = load_directions(direction) if isinstance(direction, (str, os.PathLike)) else direction
    G = load_generator(network, device, truncation_psi=truncation_psi)
    _check_network(G, network, seeds is not None, class_idx, label, truncation_cutoff, directions, direction, index)
    moved = dict(index=index if directions is not None else None, strength=strength)
    outdir = Path(outdir)

    seed_class = seed_classes(seeds, classes) if seeds is not None else None
    ws = load_projected_w(projected_w, G) if seed_class is None else None
    named = len(classes) > 1  # one class keeps NVIDIA's names, which their scripts and ours expect
    names = _image_names(G, seed_class, ws, named, moved)
    count = len(names)
    if cols_rows is not None:
        check_grid(*cols_rows, count, f"{len(seeds)}x{len(classes)} (a row per class)" if named else None)
        names = [image_name(**moved)]
    paths = [outdir / name for name in names]
    if seed_class is not None and cols_rows is None and not force:
        check_missing_seeds(paths, seed_class, named)
    check_outputs(paths, force)

    if seed_class is not None:
        images = each_seed_image(G, seed_class, truncation_psi, truncation_cutoff, noise_mode, directions, index,
                                 strength, label)
    else:
        images = each_projected_image(G, _moved_ws(G, ws, truncation_psi, truncation_cutoff, directions, index, strength),
                                      noise_mode)
    canvas = grid_canvas(G, *cols_rows) if cols_rows is not None else None
    images = progress_bar(images, show=progress, total=count, desc="generate", unit="img")
    with new_folders_removed_on_failure(outdir):  # a new --outdir goes again if its first image fails
        if canvas is not None:
            return _write_grid(images, canvas, paths[0], force)
        return _write_each(images, paths, force, seed_class, named)


def _parse_options(seeds: Sequence[int] | str | None, projected_w: str | os.PathLike | None, class_idx: ClassArg,
                   label: Label, direction: str | os.PathLike | Directions | None, index: int, strength: float,
                   truncation_psi: float, noise_mode: str, grid: str | tuple[int, int] | None,
                   ) -> tuple[list[int] | None, list[int | None], tuple[int, int] | None]:
    """`generate_images`' checks that need no network, in the order the command reports them; returns the seeds
    (None for projected ws), the classes and the grid's columns and rows (None without a grid)."""
    if (seeds is None) == (projected_w is None):
        raise ToolOptionError(SEEDS_OR_PROJECTED_W)
    if projected_w is not None:
        check_projected_class(class_idx, label)
    classes = parse_classes(class_idx)
    check_label_options(class_idx, label)
    if direction is None and (index != 0 or strength != 0):
        raise ToolOptionError(f"{moving_options(index, strength)} without --direction: give the directions file to move "
                        "along (from `stylegan2 directions`)")
    check_psi(truncation_psi)
    check_noise_mode(noise_mode)
    return (parse_seeds(seeds) if seeds is not None else None, classes,
            parse_grid(grid) if grid is not None else None)


def _check_network(G: Generator, network: Network, from_seeds: bool, class_idx: ClassArg, label: Label,
                   truncation_cutoff: int | None, directions: Directions | None,
                   direction: str | os.PathLike | Directions | None, index: int) -> None:
    """`generate_images`' checks against the network: the class or label (seeds only: a projected w holds its own),
    the truncation cutoff, and the directions' index and sizes (with a note when they come from another network)."""
    if from_seeds:
        check_inputs(G, class_idx, truncation_cutoff, label)
    else:
        check_truncation_cutoff(G, truncation_cutoff)
    if directions is not None:
        directions.check(index, G.num_ws, G.w_dim)
        given = direction if isinstance(direction, (str, os.PathLike)) else "the directions"
        directions.check_network(G, None if isinstance(network, Generator) else str(network), given,
                                 "--direction")


def _image_names(G: Generator, seed_class: list[tuple[int, int | None]] | None, ws: torch.Tensor | None, named: bool,
                 moved: dict) -> list[str]:
    """One file name per image: per (seed, class), with the class where several are rendered (`named`), else per
    projected w; `moved` names the direction (`image_name`'s index and strength)."""
    if seed_class is not None:
        return [image_name(seed=seed, class_idx=c if named else None, c_dim=G.c_dim, **moved) for seed, c in seed_class]
    return [image_name(proj=i, **moved) for i in range(len(ws))]


def _moved_ws(G: Generator, ws: torch.Tensor, truncation_psi: float, truncation_cutoff: int | None,
              directions: Directions | None, index: int, strength: float) -> torch.Tensor:
    """Projected ws truncated as seeds' are, then moved along the direction."""
    ws = truncate_ws(G, ws, truncation_psi, truncation_cutoff)
    return directions.move(ws, index, strength) if directions is not None else ws


def _write_grid(images: Iterator[np.ndarray], canvas: GridCanvas, path: Path, force: bool) -> list[Path]:
    """Fill the grid with the images as they come, then write it."""
    for image in images:
        canvas.add(image)
    outcome = unchanged([path])
    try:
        return [save_image(canvas.array, path, replace=force)]
    except OSError as err:
        raise failed_write(err, outcome) from None


def _write_each(images: Iterator[np.ndarray], paths: Sequence[Path], force: bool,
                seed_class: list[tuple[int, int | None]] | None, named: bool) -> list[Path]:
    """Write each image to its path as it comes; a run that stops early says what it wrote and what is left."""
    written: list[Path] = []
    try:
        for path, image in zip(paths, images):
            written.append(save_image(image, path, replace=force))
    except KeyboardInterrupt:
        warn(f"interrupted: {_written_so_far(written, len(paths), seed_class, named)}")
        raise
    except OutputAppearedError as err:  # another command writing the same names into --outdir
        raise ToolError(f"{err.cause}; {_written_so_far(written, len(paths), seed_class, named, taken=1)}") from None
    except OSError as err:
        raise failed_write(err, _written_so_far(written, len(paths), seed_class, named)) from None
    return written


def _written_so_far(written: list[Path], count: int, seed_class: list[tuple[int, int | None]] | None,
                    named: bool, taken: int = 0) -> str:
    """What a run that stopped early wrote, and the --seeds (and --class) that render the rest (a rerun refuses the
    images written); `taken`: how many images after those another command's files hold now, left out of the rest.
    A run that stopped before its first image, by itself, needs no hint: the same command renders the rest."""
    if written:
        said = f"wrote {written[0].name}" + (f" to {written[-1].name}" if len(written) > 1 else "")
        said += f" ({len(written)} of {count}) to {written[0].parent}"
    else:
        said = f"none of the {count} images was written" if count > 1 else "nothing was written"
    done = len(written) + taken
    rest = seed_class[done:] if seed_class is not None and done else []
    return said + (f"; the rest: {seed_options(rest, named)}" if rest else "")


def seed_options(seed_class: Sequence[tuple[int, int | None]], named: bool) -> str:
    """The options that render just these (seed, class) pairs: '--seeds 3-7', or with several classes (`named`) one
    --seeds/--class pair per set of classes that miss the same seeds: '--seeds 3-7 --class 5, and --seeds 0-7
    --class 6-9'."""
    if not named:
        return f"--seeds {number_ranges([seed for seed, _ in seed_class])}"
    by_class: dict[int | None, list[int]] = {}
    for seed, c in seed_class:
        by_class.setdefault(c, []).append(seed)
    by_seeds: dict[tuple[int, ...], list[int]] = {}
    for c, seeds in by_class.items():
        by_seeds.setdefault(tuple(seeds), []).append(c)
    return ", and ".join(f"--seeds {number_ranges(seeds)} --class {number_ranges(classes)}"
                         for seeds, classes in by_seeds.items())


def check_missing_seeds(paths: Sequence[Path], seed_class: Sequence[tuple[int, int | None]], named: bool) -> None:
    """Refuse, as check_outputs does, a run whose images partly exist (an earlier run stopped early), naming the
    --seeds (and --class, with several classes) that write only the missing ones."""
    if any(os.path.lexists(path) and not path.exists() for path in paths):
        return  # a dangling link: check_outputs names it (finishing around it would leave the link for an image)
    existing = [path for path in paths if path.exists()]
    missing = [pair for pair, path in zip(seed_class, paths) if not path.exists()]
    if existing and missing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise OutputExistsError(f"{existing[0]} already exists{more}; to write only the {plural(len(missing), 'missing image')}: "
                                f"{seed_options(missing, named)}; or pass --force to overwrite, or choose another --outdir")
