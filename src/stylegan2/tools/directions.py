"""`stylegan2 directions`: SeFa directions saved to a file, with a strip image per direction."""

from __future__ import annotations

import dataclasses
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
    Label,
    Network,
    ToolOptionError,
    check_inputs,
    check_label_options,
    check_noise_mode,
    check_psi,
    load_generator,
    one_class,
    parse_seeds,
    seed_ws,
)
from .files import check_outputs, note_earlier_outputs, output_set, write_npz
from .generate import synthesize
from .sefa import Directions, directions_arrays, factorize

DIRECTIONS_FILE = "directions.npz"


def check_steps(steps: int) -> None:
    """Refuse a --steps below 2: a strip shows at least both ends of the move."""
    if steps < 2:
        raise ToolOptionError(f"--steps {steps}: a strip needs at least 2 steps")


def direction_strip(
    G: Generator,
    found: Directions,
    index: int,
    seeds: Sequence[int] | str = (0,),
    strength: float = 3.0,
    steps: int = 7,
    truncation_psi: float = DEFAULT_TRUNCATION_PSI,
    class_idx: int | None = None,
    noise_mode: str = DEFAULT_NOISE_MODE,
    label: Label = None,
) -> np.ndarray:
    """uint8 image [rows * H, steps * W, C]: one row per seed (of class `class_idx`, or with the label vector
    `label`), strengths from -strength to +strength."""
    check_steps(steps)
    seeds = parse_seeds(seeds)
    strengths = np.linspace(-strength, strength, steps)
    images = []
    for seed in seeds:
        ws = seed_ws(G, seed, truncation_psi, None, class_idx, label)
        images += [synthesize(G, found.move(ws, index, s), noise_mode, noise_seed=seed) for s in strengths]
    return image_grid(np.concatenate(images), cols=steps, rows=len(seeds))


def find_directions(
    network: Network,
    outdir: str | os.PathLike = DEFAULT_OUTDIR,
    *,
    layers: str | list[int] = "all",
    strips: int = 5,
    seeds: Sequence[int] | str = (0,),
    strength: float = 3.0,
    steps: int = 7,
    truncation_psi: float = DEFAULT_TRUNCATION_PSI,
    class_idx: int | None = None,
    label: Label = None,
    noise_mode: str = DEFAULT_NOISE_MODE,
    force: bool = False,
    device: str | torch.device | None = None,
) -> list[Path]:
    """Write directions.npz (SeFa) and directionNN.png strips for the `strips` strongest directions: one set, all
    put in place together or none (see atomic_paths), so the strips never belong to another directions file.
    directions.npz records the network's file name and style weights' fingerprint, so that `generate --direction`
    notes when another network takes it."""
    if strips < 0:
        raise ToolOptionError(f"--strips {strips}: must be 0 or more")
    if strips:
        check_steps(steps)  # before directions.npz is written
    check_psi(truncation_psi)
    check_noise_mode(noise_mode)
    class_idx = one_class(class_idx, hint="the strips show one class; run it once per class (the directions are the "
                                          "same for every class)")
    check_label_options(class_idx, label)
    seeds = parse_seeds(seeds)
    G = load_generator(network, device, truncation_psi=truncation_psi)
    if strips or class_idx is not None or label is not None:  # the directions come from the weights alone; a class
        check_inputs(G, class_idx, label=label)  # is for the strips' images
    strips = min(strips, G.w_dim)
    outdir = Path(outdir)
    paths = [outdir / DIRECTIONS_FILE] + [outdir / f"direction{i:02d}.png" for i in range(strips)]
    check_outputs(paths, force)
    note_earlier_outputs(paths, "direction[0-9]*.png")  # strips numbered by position: an earlier, longer run's would pass for ours

    name = None if isinstance(network, Generator) else Path(network).name  # recorded to name it in a refusal
    found = dataclasses.replace(factorize(G, layers), network=name)
    with output_set(paths, force=force) as temps:
        with writing(paths[0]):
            write_npz(temps[0], directions_arrays(found))
        for i, (path, tmp) in enumerate(zip(paths[1:], temps[1:])):
            strip = direction_strip(G, found, i, seeds, strength, steps, truncation_psi, class_idx, noise_mode, label)
            with writing(path):
                write_png(strip, tmp)
    return paths
