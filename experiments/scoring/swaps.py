"""Scoring Swapping Autoencoder swaps on builtin:shapes against their ground truth, and typed --set overrides."""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
import torch

from stylegan2.data.shapes import ShapeSample, render_shape
from stylegan2.swapae.config import SwapAEOptions

TRAINING_DATA = "builtin:shapes"  # 10,000 items of shapes seed 0, at 32 px


def segment(image: np.ndarray, fg_color: np.ndarray, bg_color: np.ndarray) -> np.ndarray:
    """bool [H, W]: pixels of a [3, H, W] image nearer to `fg_color` than to `bg_color`."""
    pixels = image.astype(np.float64)
    to_fg = np.linalg.norm(pixels - np.asarray(fg_color, np.float64)[:, None, None], axis=0)
    to_bg = np.linalg.norm(pixels - np.asarray(bg_color, np.float64)[:, None, None], axis=0)
    return to_fg < to_bg


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks (1 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def color_distance(image: np.ndarray, mask: np.ndarray, fg_color: np.ndarray, bg_color: np.ndarray) -> float:
    """Mean RGB distance of the image inside `mask` to `fg_color` and outside it to `bg_color`, averaged over the two regions."""
    pixels = image.astype(np.float64)
    to_fg = np.linalg.norm(pixels - np.asarray(fg_color, np.float64)[:, None, None], axis=0)
    to_bg = np.linalg.norm(pixels - np.asarray(bg_color, np.float64)[:, None, None], axis=0)
    regions = [d[m] for d, m in ((to_fg, mask), (to_bg, ~mask)) if m.any()]
    return float(np.mean([r.mean() for r in regions]))


def score_swap(output: np.ndarray, structure: ShapeSample, texture: ShapeSample) -> dict[str, float]:
    """The four numbers of one swapped image (uint8 [3, H, W]): IoUs with both sources, colour distances to both."""
    seg = segment(output, texture.fg_color, texture.bg_color)
    return {
        "iou_structure": mask_iou(seg, structure.mask),
        "iou_texture": mask_iou(seg, texture.mask),
        "dist_texture": color_distance(output, structure.mask, texture.fg_color, texture.bg_color),
        "dist_structure": color_distance(output, structure.mask, structure.fg_color, structure.bg_color),
    }


def shape_images(start: int, count: int, resolution: int, seed: int) -> list[ShapeSample]:
    return [render_shape(start + i, resolution, seed) for i in range(count)]


def as_tensor(samples: list[ShapeSample]) -> torch.Tensor:
    """float32 [N, 3, H, W] images in [-1, 1], the networks' input range."""
    return torch.from_numpy(np.stack([s.image for s in samples])).float() / 127.5 - 1


def parse_overrides(parser: argparse.ArgumentParser, items: list[str]) -> dict:
    """--set NAME=VALUE pairs as SwapAEOptions overrides; VALUE is read as JSON (numbers, true/false), else kept as text,
    and must have the type of the field's default."""
    defaults = SwapAEOptions(data=TRAINING_DATA)
    fields = {f.name for f in dataclasses.fields(SwapAEOptions)}
    overrides = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or name not in fields:
            parser.error(f"--set {item!r}: expected NAME=VALUE with NAME a SwapAEOptions field ({', '.join(sorted(fields))})")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        default = getattr(defaults, name)
        if isinstance(default, float) and type(value) is int:
            value = float(value)
        if default is not None and type(value) is not type(default):
            parser.error(f"--set {item!r}: {name} takes a {type(default).__name__} like {json.dumps(default)}")
        overrides[name] = value
    return overrides
