"""Network images to 8-bit pixels, grids and PNG files.

Networks produce float tensors [N, C, H, W] in about [-1, 1]; PIL and video writers take uint8
arrays [H, W, C]. Each function says in its name or signature which layout it takes:
`to_uint8` keeps [N, C, H, W], `to_uint8_nhwc` turns it into [N, H, W, C] arrays; `make_grid`
tiles [N, C, H, W], `image_grid` tiles [N, H, W, C], `GridCanvas` the same one image at a time;
`save_image` writes one [H, W, C] array (`write_png` into a temporary of the caller's).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import PIL.Image
import torch

from .files import atomic_path, writing

PIL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def to_uint8(img: torch.Tensor) -> torch.Tensor:
    """Network images in [-1, 1] to uint8 [0, 255], same layout, exactly as the official tools quantize them."""
    return (img * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def to_uint8_nhwc(img: torch.Tensor) -> np.ndarray:
    """Network images [N, C, H, W] in about [-1, 1] to a uint8 array [N, H, W, C] on the CPU."""
    return to_uint8(img).permute(0, 2, 3, 1).cpu().numpy()


def image_grid(images: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """uint8 [N, H, W, C] -> [rows * H, cols * W, C], filled row by row; empty cells stay black."""
    n, h, w, c = images.shape
    if n > cols * rows:
        raise ValueError(f"--grid {cols}x{rows} has {cols * rows} cells but there are {n} images; enlarge the grid")
    cells = np.zeros([rows * cols, h, w, c], dtype=np.uint8)
    cells[:n] = images
    return cells.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w, c)


class GridCanvas:
    """A grid image filled one [H, W, C] cell at a time, row by row, as `image_grid` fills it: only the canvas and
    the image being added are held, so images can be rendered one by one into a grid of any count."""

    def __init__(self, cols: int, rows: int, height: int, width: int, channels: int) -> None:
        self.cols, self.rows, self.height, self.width = cols, rows, height, width
        self.array = np.zeros([rows * height, cols * width, channels], dtype=np.uint8)  # [rows * H, cols * W, C]
        self.count = 0

    def add(self, image: np.ndarray) -> None:
        """Put uint8 [H, W, C] into the next empty cell."""
        if self.count == self.cols * self.rows:
            raise ValueError(f"--grid {self.cols}x{self.rows} is full; enlarge the grid")
        row, col = divmod(self.count, self.cols)
        top, left = row * self.height, col * self.width
        self.array[top:top + self.height, left:left + self.width] = image
        self.count += 1


def make_grid(images: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """uint8 [N, C, H, W] -> [rows * H, cols * W, C]: the first cols * rows images, missing cells black."""
    return image_grid(images[: cols * rows].transpose(0, 2, 3, 1), cols, rows)


def to_pil(image: np.ndarray) -> PIL.Image.Image:
    """uint8 [H, W, C] -> PIL image; one channel becomes grayscale 'L', four 'RGBA'."""
    channels = image.shape[2]
    if channels not in PIL_MODES:
        raise ValueError(f"cannot save images with {channels} channels (supported: 1, 3, 4)")
    return PIL.Image.fromarray(image[:, :, 0] if channels == 1 else image, PIL_MODES[channels])


def save_image(image: np.ndarray, path: str | Path, *, replace: bool = True) -> Path:
    """Save a uint8 [H, W, C] array as PNG, atomically (written next to `path`, then renamed over it). Without
    `replace` a file that appeared at `path` meanwhile is left alone (OutputAppearedError, this one not kept)."""
    pil = to_pil(image)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with writing(path), atomic_path(path, replace=replace) as tmp:
        pil.save(tmp, format="PNG")
    return path


def write_png(image: np.ndarray, path: str | Path) -> None:
    """Write a uint8 [H, W, C] array as PNG straight into `path` (a temporary that the caller commits)."""
    to_pil(image).save(path, format="PNG")
