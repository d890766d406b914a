"""Looping interpolation videos through seeds (spherical in z or linear in w) or projected ws, optionally a grid."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from ..models import Generator
from ..models.inputs import is_whole_number
from ..utils.files import new_folders_removed_on_failure
from ..utils.image import image_grid
from ..utils.progress import progress_bar
from .common import (
    DEFAULT_NOISE_MODE,
    DEFAULT_OUTDIR,
    DEFAULT_TRUNCATION_PSI,
    SEEDS_OR_PROJECTED_W,
    ClassArg,
    Label,
    Network,
    ToolOptionError,
    check_fps,
    check_inputs,
    check_label_options,
    check_noise_mode,
    check_psi,
    check_truncation_cutoff,
    class_label,
    load_generator,
    one_class,
    parse_grid,
    parse_seeds,
    seed_latent,
    seed_ws,
)
from .files import VideoWriter, check_outputs, failed_write, note_gif_fallback, unchanged, video_suffix
from .generate import check_projected_class, load_projected_ws, synthesize, truncate_ws

SPACES = ("z", "w")
WS_PER_PIECE = 256  # frames whose ws render_video computes at a time


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation from a [N, D] to b [N, D] at fractions t [N]: keeps Gaussian z at a typical norm."""
    a64, b64, t64 = a.double(), b.double(), t.double()[:, None]
    cos = (a64 / a64.norm(dim=1, keepdim=True) * b64 / b64.norm(dim=1, keepdim=True)).sum(dim=1, keepdim=True)
    omega = torch.arccos(cos.clamp(-1, 1))
    sin = torch.sin(omega)
    parallel = sin.abs() < 1e-6  # (anti)parallel vectors: fall back to linear interpolation
    safe_sin = torch.where(parallel, torch.ones_like(sin), sin)
    spherical = (torch.sin((1 - t64) * omega) * a64 + torch.sin(t64 * omega) * b64) / safe_sin
    linear = (1 - t64) * a64 + t64 * b64
    return torch.where(parallel, linear, spherical).to(a.dtype)


def check_frames(frames: int) -> None:
    """A video's length in frames: a whole number >= 1."""
    if not is_whole_number(frames) or frames < 1:
        raise ToolOptionError(f"--frames {frames!r}: must be a whole number >= 1")


def frame_range(frames: range | None, num_frames: int) -> range:
    """The frames to make of a video of `num_frames`: `frames`, a non-empty range of its frame indices, or all of them."""
    if frames is None:
        return range(num_frames)
    ends = (frames[0], frames[-1]) if isinstance(frames, range) and frames else None  # a range lies between its ends
    if ends is None or min(ends) < 0 or max(ends) >= num_frames:
        raise ToolOptionError(f"frames must be a non-empty range of frame indices in 0..{num_frames - 1} (num_frames "
                              f"{num_frames}), such as range(0, {num_frames}); got {frames!r}")
    return frames


def _positions(num_keys: int, num_frames: int, frames: range) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each frame of `frames`: the keyframe it leaves, the one it goes to (the last leads back to the first) and
    the fraction of the way between them."""
    position = torch.arange(frames.start, frames.stop, frames.step, dtype=torch.float64) * num_keys / num_frames
    start = position.floor().long()
    return start, (start + 1) % num_keys, (position - start).to(torch.float32)


@torch.no_grad()
def interpolation_ws(
    G: Generator,
    seeds: Sequence[int] | str,
    num_frames: int,
    space: str = "z",
    truncation_psi: float = DEFAULT_TRUNCATION_PSI,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    frames: range | None = None,
    label: Label = None,
) -> torch.Tensor:
    """ws [num_frames, num_ws, w_dim] looping through the seeds (frame 0 is the first seed; the last leads back), of
    class `class_idx` or with the label vector `label`.

    `frames` picks some of the num_frames (a range of frame indices), so that long videos are made in pieces.
    """
    if space not in SPACES:
        raise ToolOptionError(f"--space must be 'z' (spherical) or 'w' (linear), got {space!r}")
    check_frames(num_frames)
    seeds = parse_seeds(seeds)
    frames = frame_range(frames, num_frames)
    if space == "w":
        keys = torch.cat([seed_ws(G, s, truncation_psi, truncation_cutoff, class_idx, label) for s in seeds])  # [K, num_ws, w_dim]
        return keyframe_ws(keys, num_frames, frames)
    start, end, frac = _positions(len(seeds), num_frames, frames)
    z = torch.cat([seed_latent(G, s) for s in seeds])  # [K, z_dim]
    zs = slerp(z[start], z[end], frac.to(z.device))  # [F, z_dim]
    c = class_label(G, class_idx, label)
    c = c.repeat(len(frames), 1) if c is not None else None
    return G.mapping(zs, c, truncation_psi=check_psi(truncation_psi),
                     truncation_cutoff=check_truncation_cutoff(G, truncation_cutoff))


def keyframe_ws(keys: torch.Tensor, num_frames: int, frames: range | None = None) -> torch.Tensor:
    """ws [num_frames, num_ws, w_dim] looping linearly through the keyframe ws `keys` [K, num_ws, w_dim] (projected
    ws, or seeds' ws), as interpolation_ws does through seeds in w."""
    check_frames(num_frames)
    frames = frame_range(frames, num_frames)
    start, end, frac = _positions(len(keys), num_frames, frames)
    return torch.lerp(keys[start], keys[end], frac.to(keys.device)[:, None, None])


def render_video(
    network: Network,
    seeds: Sequence[int] | str | None = None,
    outdir: str | os.PathLike = DEFAULT_OUTDIR,
    *,
    projected_w: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    frames: int = 60,
    fps: float = 30.0,
    grid: str | tuple[int, int] | None = None,
    space: str | None = None,
    truncation_psi: float = DEFAULT_TRUNCATION_PSI,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    label: Label = None,
    noise_mode: str = DEFAULT_NOISE_MODE,
    video_format: str = "auto",
    force: bool = False,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> Path:
    """Write video.mp4 (video.gif without imageio-ffmpeg) of `frames` frames looping through keyframes: seeds
    (`space` z, spherical, by default; or w, linear) or the ws of projection files in order (`projected_w`, one file
    or several: linear in w, truncated as `generate --projected-w` truncates). A grid splits the keyframes among
    its cells. Seeds are of class `class_idx` (one: a video shows one class) or take the label vector `label`."""
    what = "--seeds" if seeds is not None else "--projected-w"
    class_idx, space = _check_options(seeds is not None, projected_w is not None, class_idx, label, space)
    seeds = parse_seeds(seeds) if seeds is not None else None
    cols, rows = parse_grid(grid) if grid is not None else (1, 1)
    cells = cols * rows
    check_frames(frames)
    check_fps(fps)
    check_psi(truncation_psi)
    check_noise_mode(noise_mode)
    G = load_generator(network, device, truncation_psi=truncation_psi)
    if seeds is not None:
        check_inputs(G, class_idx, truncation_cutoff, label)
    else:  # a projected w holds its class: a conditional network needs none
        check_truncation_cutoff(G, truncation_cutoff)
        keys = truncate_ws(G, load_projected_ws(projected_w, G), truncation_psi, truncation_cutoff)
    count, noun = (len(seeds), "seed") if seeds is not None else (len(keys), "w")
    if grid is None and count < 2:
        raise ToolOptionError(f"{what}: a looping video needs at least 2 {noun}s, got {count}"
                        + ("" if seeds is not None else " (pass --projected-w once per file, in order)"))
    if count % cells != 0 or count // cells < 2:
        raise ToolOptionError(f"{what}: {count} {noun}(s) for {cells} video(s) in the grid; give at least 2 per video "
                        f"and a multiple of {cells} in all")
    path = Path(outdir) / f"video{video_suffix(video_format)}"
    check_outputs([path], force)
    note_gif_fallback(video_format)

    per_cell = count // cells

    def cell_ws(i: int, piece: range) -> torch.Tensor:
        cell = slice(i * per_cell, (i + 1) * per_cell)
        if seeds is None:
            return keyframe_ws(keys[cell], frames, piece)
        return interpolation_ws(G, seeds[cell], frames, space, truncation_psi, truncation_cutoff, class_idx, piece,
                                label)

    def frame_images() -> Iterator[np.ndarray]:  # the ws of WS_PER_PIECE frames at a time: memory stays bounded
        for frame in progress_bar(range(frames), show=progress, desc="video", unit="frame"):
            if frame % WS_PER_PIECE == 0:
                piece = range(frame, min(frame + WS_PER_PIECE, frames))
                ws = torch.stack([cell_ws(i, piece) for i in range(cells)])  # [cells, len(piece), num_ws, w_dim]
            yield image_grid(synthesize(G, ws[:, frame % WS_PER_PIECE], noise_mode), cols, rows)  # cells [H, W, C]

    return _write_video(path, frame_images(), fps, force)


def _check_options(from_seeds: bool, from_projected_w: bool, class_idx: ClassArg, label: Label,
                   space: str | None) -> tuple[int | None, str]:
    """`render_video`'s checks of what the keyframes are; returns the one class and the space (z for seeds, w for
    projected ws, unless given)."""
    if from_seeds == from_projected_w:
        raise ToolOptionError(SEEDS_OR_PROJECTED_W)
    class_idx = one_class(class_idx, hint="a video shows one class; run it once per class")
    check_label_options(class_idx, label)
    if from_projected_w:
        check_projected_class(class_idx, label)
        if space == "z":
            raise ToolOptionError("--space z: projected ws have no z; they are interpolated linearly in w (leave --space out)")
    space = space or ("z" if from_seeds else "w")
    if space not in SPACES:
        raise ToolOptionError(f"--space must be 'z' (spherical) or 'w' (linear), got {space!r}")
    return class_idx, space


def _write_video(path: Path, frames: Iterator[np.ndarray], fps: float, force: bool) -> Path:
    """Write the frames as they come; a failed write leaves no partial video (and no new folder) behind."""
    outcome = unchanged([path])
    try:
        with new_folders_removed_on_failure(path.parent):
            writer = VideoWriter(path, fps, replace=force)
            try:
                for frame in frames:
                    writer.append(frame)
            except BaseException:
                writer.abort()
                raise
            return writer.close()
    except OSError as err:
        raise failed_write(err, outcome) from None
