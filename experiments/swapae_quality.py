"""Does a Swapping Autoencoder trained on builtin:shapes swap? Scored against the shapes' ground truth.

    python experiments/swapae_quality.py                          # train the cpu preset for 30 kimg, score it
    python experiments/swapae_quality.py --minutes 30 --grid swapae_shapes.png
    python experiments/swapae_quality.py --network RUN/network-snapshot-....safetensors --pairs 256
    python experiments/swapae_quality.py --set lambda_l2=8 --set spatial_code_ch=8   # train a variant of the preset

builtin:shapes draws structure (shape, position, size, rotation) and texture (foreground and background
colour) independently, so every swap has a known right answer: the structure source's mask painted in
the texture source's colours. For `--pairs` N pairs (structure item i, texture item N + i, rendered with
the held-out `--eval-seed`, which training never sees) the script decodes E's structure code of one
with E's texture code of the other and measures:

- mask IoU with the structure source: each output pixel is assigned to the nearer of the texture
  source's two colours, and that foreground is compared with the structure source's true mask
  (baseline: the same IoU against the texture source's mask, which a swap must not copy);
- colour distance to the texture source: mean RGB distance (0-255 units) of the output's pixels in the
  structure mask to the texture source's foreground colour and outside it to its background colour,
  averaged over the two regions (baseline: the same against the structure source's own colours, which
  a swap must move away from);
- reconstruction L1: mean |G(E(x)) - x| of the 2N images, on the [-1, 1] scale of the training loss.

A perfect swap scores IoU 1 and distance 0. `--grid` writes the first 6 structures x 6 textures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scoring import SNAPSHOT_FILE, new_png, require_file
from scoring.swaps import TRAINING_DATA, as_tensor, parse_overrides, score_swap, shape_images

from stylegan2.data import ImageDataset, open_dataset
from stylegan2.swapae.config import SwapAEOptions, resolve_swapae_options

DEFAULT_KIMG = 30.0  # the preset's reported length; its time is in docs/experiments/swapae-shapes.md


def evaluate(network: Path, pairs: int, eval_seed: int, device: str | None) -> tuple[dict[str, float], np.ndarray]:
    """Mean scores over the pairs, plus uint8 [6, 6, H, W, C] swaps of the first 6 structures x 6 textures for the grid."""
    from stylegan2.swapae.tools import decode_codes, encode_images, load_swapae, reconstruct_images, swap_images
    from stylegan2.utils.image import to_uint8_nhwc as to_uint8

    E, G = load_swapae(network, device)
    resolution = E.init_kwargs["img_resolution"]
    structures, textures = shape_images(0, pairs, resolution, eval_seed), shape_images(pairs, pairs, resolution, eval_seed)

    device = next(E.parameters()).device
    s_img, t_img = as_tensor(structures).to(device), as_tensor(textures).to(device)
    structure_codes, _ = encode_images(E, s_img)
    _, texture_codes = encode_images(E, t_img)
    outputs = to_uint8(decode_codes(G, structure_codes, texture_codes)).transpose(0, 3, 1, 2)  # pair k: structure k, texture k
    scores = [score_swap(out, s, t) for out, s, t in zip(outputs, structures, textures)]
    means = {key: float(np.mean([s[key] for s in scores])) for key in scores[0]}
    both = torch.cat([s_img, t_img])
    means["rec_l1"] = float((reconstruct_images(E, G, both) - both).abs().mean())
    n = min(6, pairs)
    cells = to_uint8(swap_images(E, G, s_img[:n], t_img[:n]).flatten(0, 1))
    return means, cells.reshape(n, n, *cells.shape[1:])


def training_options(dataset: ImageDataset, kimg: float | None, outdir: Path, seed: int, overrides: dict) -> SwapAEOptions:
    """The cpu preset on `dataset` (builtin:shapes, 32 px) with the script's settings; ValueError names a bad one."""
    overrides = dict(overrides, outdir=str(outdir), workers=0, seed=seed, kimg=kimg if kimg is not None else 1e6)
    return resolve_swapae_options(TRAINING_DATA, "cpu", dataset.resolution, 1, overrides, device_type="cpu")  # workers given


def train(options: SwapAEOptions, dataset: ImageDataset, minutes: float | None, device: str | None) -> Path:
    """Train with `options` on `dataset` (for `minutes` at most) and return the final snapshot."""
    from stylegan2.swapae.training import train_swapae

    run_dir = train_swapae(options, device=device, dataset=dataset, max_seconds=None if minutes is None else minutes * 60)
    return sorted(run_dir.glob("network-snapshot-*.safetensors"))[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--kimg", type=float, help="training length in thousands of images [default: 30]")
    budget.add_argument("--minutes", type=float, help="train for this long instead of a fixed --kimg")
    budget.add_argument("--network", type=Path, help="score this snapshot instead of training")
    parser.add_argument("--outdir", type=Path, help="where the training run goes [default: a temporary folder]")
    parser.add_argument("--pairs", type=int, default=64, help="swapped pairs to score [default: 64]")
    parser.add_argument("--eval-seed", type=int, default=1000, help="builtin:shapes seed of the scored images [default: 1000]")
    parser.add_argument("--seed", type=int, default=0, help="training seed [default: 0]")
    parser.add_argument("--grid", type=new_png, help="write the 6x6 swap grid (structures in rows, textures in columns) here")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads [default: 2]")
    parser.add_argument("--device", help="cpu or cuda [default: cuda when available]")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="train with this SwapAEOptions field changed, e.g. lambda_l2=4 or recolor_structure=true (repeatable)")
    args = parser.parse_args()
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    if args.minutes is not None and args.minutes <= 0:
        parser.error(f"--minutes must be positive, got {args.minutes}")
    if args.network is not None:
        require_file(parser, "--network", args.network, f"{SNAPSHOT_FILE} of a Swapping Autoencoder")
    torch.set_num_threads(args.threads)

    network = args.network
    if network is None:
        kimg = args.kimg if args.kimg is not None or args.minutes is not None else DEFAULT_KIMG
        with tempfile.TemporaryDirectory() as tmp:
            try:
                dataset = open_dataset(TRAINING_DATA)
                options = training_options(dataset, kimg, args.outdir or Path(tmp), args.seed, parse_overrides(parser, args.overrides))
            except ValueError as err:  # the library's one-line message for a bad --kimg or --set value
                parser.error(str(err))
            start = time.time()
            network = train(options, dataset, args.minutes, args.device)
            print(f"trained in {time.time() - start:.0f} s: {network}")
            scores, cells = evaluate(network, args.pairs, args.eval_seed, args.device)
    else:
        scores, cells = evaluate(network, args.pairs, args.eval_seed, args.device)

    rows = [
        ("mask IoU with the structure source (higher is better)", scores["iou_structure"]),
        ("mask IoU with the texture source (baseline)", scores["iou_texture"]),
        ("colour distance to the texture source (lower is better)", scores["dist_texture"]),
        ("colour distance to the structure source (baseline)", scores["dist_structure"]),
        ("reconstruction L1 ([-1, 1] scale)", scores["rec_l1"]),
    ]
    print(f"{args.pairs} swapped pairs of builtin:shapes (held-out seed {args.eval_seed})")
    for name, value in rows:
        print(f"  {name:<58s} {value:8.3f}")
    swaps = scores["iou_structure"] > scores["iou_texture"] and scores["dist_texture"] < scores["dist_structure"]
    print(f"  swaps structure and texture: {'yes' if swaps else 'no'}")
    if args.grid is not None:
        from stylegan2.tools.mix import style_mix_grid
        from stylegan2.utils.image import save_image

        n, resolution = cells.shape[0], cells.shape[2]
        rows, cols = (np.stack([s.image.transpose(1, 2, 0) for s in shape_images(start, n, resolution, args.eval_seed)])
                      for start in (0, args.pairs))
        save_image(style_mix_grid(rows, cols, cells), args.grid)
        print(f"wrote {args.grid}")


if __name__ == "__main__":
    main()
