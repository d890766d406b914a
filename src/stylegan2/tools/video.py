"""Looping interpolation videos through seeds: spherical in z or linear in w, optionally a grid of them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import torch
from tqdm import tqdm

from ..models import Generator
from ..models.inputs import is_whole_number
from ..utils.image import image_grid
from .common import (
    Network,
    ToolError,
    check_fps,
    check_inputs,
    check_noise_mode,
    check_psi,
    check_truncation_cutoff,
    class_label,
    load_generator,
    parse_grid,
    parse_seeds,
    seed_latent,
    seed_ws,
)
from .files import VideoWriter, check_outputs, video_suffix
from .generate import synthesize

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


@torch.no_grad()
def check_frames(frames: int) -> None:
    """A video's length in frames: a whole number >= 1."""
    if not is_whole_number(frames) or frames < 1:
        raise ToolError(f"--frames {frames!r}: must be a whole number >= 1")


def interpolation_ws(
    G: Generator,
    seeds: Sequence[int] | str,
    num_frames: int,
    space: str = "z",
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    frames: range | None = None,
) -> torch.Tensor:
    """ws [num_frames, num_ws, w_dim] looping through the seeds (frame 0 is the first seed; the last leads back).

    `frames` picks some of the num_frames (a range of frame indices), so that long videos are made in pieces.
    """
    if space not in SPACES:
        raise ToolError(f"--space must be 'z' (spherical) or 'w' (linear), got {space!r}")
    check_frames(num_frames)
    seeds = parse_seeds(seeds)
    frames = range(num_frames) if frames is None else frames
    position = torch.arange(frames.start, frames.stop, frames.step, dtype=torch.float64) * len(seeds) / num_frames  # in keyframes
    start = position.floor().long()
    frac = (position - start).to(torch.float32)
    end = (start + 1) % len(seeds)
    device = next(G.parameters()).device
    frac = frac.to(device)
    if space == "z":
        z = torch.cat([seed_latent(G, s) for s in seeds])  # [K, z_dim]
        zs = slerp(z[start], z[end], frac)  # [F, z_dim]
        c = class_label(G, class_idx)
        c = c.repeat(len(frames), 1) if c is not None else None
        return G.mapping(zs, c, truncation_psi=check_psi(truncation_psi),
                         truncation_cutoff=check_truncation_cutoff(G, truncation_cutoff))
    keys = torch.cat([seed_ws(G, s, truncation_psi, truncation_cutoff, class_idx) for s in seeds])  # [K, num_ws, w_dim]
    return torch.lerp(keys[start], keys[end], frac[:, None, None])


def render_video(
    network: Network,
    seeds: Sequence[int] | str,
    outdir: str | os.PathLike = "out",
    *,
    frames: int = 60,
    fps: float = 30.0,
    grid: str | tuple[int, int] | None = None,
    space: str = "z",
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    noise_mode: str = "const",
    video_format: str = "auto",
    force: bool = False,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> Path:
    """Write video.mp4 (video.gif without imageio-ffmpeg) of `frames` frames; a grid splits the seeds among its cells."""
    seeds = parse_seeds(seeds)
    cols, rows = parse_grid(grid) if grid is not None else (1, 1)
    cells = cols * rows
    if grid is None and len(seeds) < 2:
        raise ToolError(f"--seeds: a looping video needs at least 2 seeds, got {len(seeds)}")
    if len(seeds) % cells != 0 or len(seeds) // cells < 2:
        raise ToolError(f"--seeds: {len(seeds)} seed(s) for {cells} video(s) in the grid; give at least 2 per video "
                        f"and a multiple of {cells} in all")
    check_frames(frames)
    check_fps(fps)
    check_psi(truncation_psi)
    check_noise_mode(noise_mode)
    G = load_generator(network, device, truncation_psi=truncation_psi)
    check_inputs(G, class_idx, truncation_cutoff)
    path = Path(outdir) / f"video{video_suffix(video_format)}"
    check_outputs([path], force)

    per_cell = len(seeds) // cells
    writer = VideoWriter(path, fps)
    try:
        for frame in tqdm(range(frames), desc="video", unit="frame", disable=not progress):
            if frame % WS_PER_PIECE == 0:  # the next piece's ws: memory stays bounded however many frames
                piece = range(frame, min(frame + WS_PER_PIECE, frames))
                ws = torch.stack([interpolation_ws(G, seeds[i * per_cell:(i + 1) * per_cell], frames, space, truncation_psi,
                                                   truncation_cutoff, class_idx, piece)
                                  for i in range(cells)])  # [cells, len(piece), num_ws, w_dim]
            images = synthesize(G, ws[:, frame % WS_PER_PIECE], noise_mode)  # [cells, H, W, C]
            writer.append(image_grid(images, cols, rows))
    except BaseException:
        writer.abort()
        raise
    return writer.close()


