"""Diagnostic variants of builtin:shapes as unlabeled .npz files: which property of the shapes makes them slow to learn?

    python experiments/shapes_variants.py --variant upright --out upright.npz   # no rotation, colours as builtin:shapes
    python experiments/shapes_variants.py --variant mono --out mono.npz         # white shapes on black, rotated as builtin:shapes

Each variant renders the same --count items as builtin:shapes (same seed, centres and sizes) and
changes one thing: `upright` draws every shape unrotated, `mono` paints the shape white on black.
The file holds only `x_train` (uint8 [N, 32, 32, 3]), so `stylegan2 train --data FILE` trains
unlabeled, as on builtin:shapes. Used in docs/experiments/unconditional.md ("What makes shapes slow").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from stylegan2.data.images import is_power_of_two
from stylegan2.data.shapes import paint, shape_colors, shape_mask
from stylegan2.models.aspect import MAX_RESOLUTION

VARIANTS = ("upright", "mono")
WHITE, BLACK = np.full(3, 255, np.uint8), np.zeros(3, np.uint8)


def render(variant: str, index: int, resolution: int) -> np.ndarray:
    """Item `index` of the variant: uint8 [H, W, 3]."""
    mask = shape_mask(index, resolution, rotate=variant != "upright")
    fg, bg = (WHITE, BLACK) if variant == "mono" else shape_colors(index)
    return paint(mask, fg, bg).transpose(1, 2, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", required=True, choices=VARIANTS)
    parser.add_argument("--out", type=Path, required=True, help="the .npz to write (must not exist)")
    parser.add_argument("--count", type=int, default=10_000, help="items, as builtin:shapes' n (default %(default)s)")
    parser.add_argument("--resolution", type=int, default=32, help="image size, a power of two (default %(default)s)")
    args = parser.parse_args()
    if args.count < 1:
        parser.error(f"--count must be at least 1, got {args.count}")
    if not (4 <= args.resolution <= MAX_RESOLUTION and is_power_of_two(args.resolution)):  # what training opens
        parser.error(f"--resolution must be a power of two from 4 to {MAX_RESOLUTION}, got {args.resolution}")
    if args.out.suffix != ".npz":
        parser.error(f"--out {args.out}: give a file name ending in .npz")
    if args.out.exists():
        parser.exit(1, f"{args.out} exists: choose a new file name (nothing was overwritten)\n")
    if not args.out.parent.is_dir():
        parser.error(f"--out {args.out}: no such folder {args.out.parent}")
    images = np.stack([render(args.variant, i, args.resolution) for i in range(args.count)])
    np.savez(args.out, x_train=images)
    print(f"Wrote {args.out}: {args.count} {args.variant} shapes, {args.resolution}x{args.resolution}")


if __name__ == "__main__":
    main()
