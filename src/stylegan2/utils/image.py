"""Conversions between network outputs and 8-bit images, and image grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .files import atomic_path


def to_uint8(img: torch.Tensor) -> torch.Tensor:
    """Network images in [-1, 1] to uint8 [0, 255], exactly as the official tools quantize them."""
    return (img * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def make_grid(images: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """uint8 images [N, C, H, W] (N <= cols * rows; missing cells are black) to one [H*rows, W*cols, C]."""
    n, c, h, w = images.shape
    canvas = np.zeros((rows * cols, c, h, w), dtype=np.uint8)
    canvas[: min(n, rows * cols)] = images[: rows * cols]
    canvas = canvas.reshape(rows, cols, c, h, w).transpose(0, 3, 1, 4, 2)  # [rows, H, cols, W, C]
    return canvas.reshape(rows * h, cols * w, c)


def save_image(array: np.ndarray, path: str | Path) -> None:
    """Save an [H, W, C] uint8 array (C = 1 or 3) as PNG, atomically."""
    image = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array, "L" if array.shape[2] == 1 else "RGB")
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
