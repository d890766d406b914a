"""How well can the Swapping Autoencoder's E and G draw builtin:shapes at all? Reconstruction alone, no discriminators.

    python experiments/swapae_reconstruction.py                               # the cpu preset's codes, L1
    python experiments/swapae_reconstruction.py --spatial-code-ch 8 --loss squared
    python experiments/swapae_reconstruction.py --num-downsampling-sp 1      # a 16x16 structure code
    python experiments/swapae_reconstruction.py --recolor-structure --loss squared --steps 4000

Trains the `cpu` preset's encoder and generator (with the given code sizes) on the reconstruction
term only, Adam(lr, betas (0, 0.99)) on batches of 16, and every `--every` steps scores 256
held-out shapes (`--eval-seed`): the mask IoU of each reconstruction (each pixel given to the
nearer of the image's own two colours) with the true mask, the mean RGB distance (0-255) of the
reconstruction to those colours, the L1 error, and the same two measures for swaps (structure of
image k, texture of image 256 + k) against the structure source's mask and the texture source's
colours. It separates "cannot draw the shapes" from "draws them but will not swap".
`--recolor-structure` trains with structure codes of recoloured copies (the training loss's
`recolor_structure`), so that colour cannot travel in the structure code.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from scoring.swaps import as_tensor, score_swap, shape_images

from stylegan2.data.shapes import ShapeSample
from stylegan2.swapae.config import resolve_swapae_options
from stylegan2.swapae.loss import SwapAELoss
from stylegan2.swapae.training import build_swapae_networks
from stylegan2.utils.image import to_uint8_nhwc as to_uint8

RESOLUTION = 32
EVAL_IMAGES = 256


def scores(outputs: torch.Tensor, structures: list[ShapeSample], textures: list[ShapeSample]) -> tuple[float, float]:
    """Mean mask IoU with the structure samples' masks and mean colour distance to the texture samples' colours."""
    images = to_uint8(outputs).transpose(0, 3, 1, 2)  # [N, 3, H, W]
    per_image = [score_swap(img, s, t) for img, s, t in zip(images, structures, textures)]
    return float(np.mean([x["iou_structure"] for x in per_image])), float(np.mean([x["dist_texture"] for x in per_image]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000, help="training steps of batch 16 [default: 2000]")
    parser.add_argument("--every", type=int, default=250, help="score every this many steps [default: 250]")
    parser.add_argument("--loss", choices=("l1", "squared"), default="l1", help="reconstruction error [default: l1, the paper's]")
    parser.add_argument("--lr", type=float, default=0.002, help="Adam learning rate [default: 0.002, the paper's]")
    parser.add_argument("--spatial-code-ch", type=int, help="structure code channels [default: the cpu preset's, 2]")
    parser.add_argument("--num-downsampling-sp", type=int, help="halvings down to the structure code [default: the preset's, 2]")
    parser.add_argument("--recolor-structure", action="store_true",
                        help="take training images' structure codes from recoloured copies [default: off, the paper's codes]")
    parser.add_argument("--eval-seed", type=int, default=1000, help="builtin:shapes seed of the scored images [default: 1000]")
    parser.add_argument("--seed", type=int, default=0, help="training seed [default: 0]")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads [default: 1]")
    args = parser.parse_args()
    if args.steps < 1 or args.every < 1:
        parser.error("--steps and --every must be at least 1")
    if args.lr <= 0:
        parser.error(f"--lr must be positive, got {args.lr}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    overrides = {"spatial_code_ch": args.spatial_code_ch, "num_downsampling_sp": args.num_downsampling_sp}
    try:
        options = resolve_swapae_options("builtin:shapes", "cpu", RESOLUTION, 1, overrides, device_type="cpu")  # builds networks only
    except ValueError as err:  # the library's one-line message for a bad network setting
        parser.error(str(err))
    networks = build_swapae_networks(options, RESOLUTION, 3)
    E, G = networks["E"], networks["G"]
    encode = SwapAELoss(E, G, networks["D"], networks["Dpatch"], recolor_structure=args.recolor_structure).encode
    optimizer = torch.optim.Adam([*E.parameters(), *G.parameters()], lr=args.lr, betas=(0.0, 0.99))
    error = F.l1_loss if args.loss == "l1" else F.mse_loss

    train = shape_images(0, 10000, RESOLUTION, seed=0)  # builtin:shapes' 10,000 training items (its seed 0, whatever --seed)
    train_images = as_tensor(train)
    structures = shape_images(0, EVAL_IMAGES, RESOLUTION, args.eval_seed)
    textures = shape_images(EVAL_IMAGES, EVAL_IMAGES, RESOLUTION, args.eval_seed)
    s_img, t_img = as_tensor(structures), as_tensor(textures)

    recolor = ", structure from recoloured copies" if args.recolor_structure else ""
    code = f"{options.spatial_code_ch} x {RESOLUTION >> options.num_downsampling_sp}^2"
    print(f"structure code {code}, {args.loss} loss, lr {args.lr}{recolor}")
    print("step  rec IoU  rec dist  rec L1  swap IoU  swap dist  seconds")
    start = time.time()
    for step in range(1, args.steps + 1):
        real = train_images[torch.randint(0, len(train), (16,))]
        loss = error(G(*encode(real)), real)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % args.every == 0 or step == args.steps:
            E.eval(), G.eval()
            with torch.no_grad():
                structure, texture = E(s_img)
                rec = G(structure, texture)
                swapped = G(structure, E(t_img)[1])
            E.train(), G.train()
            rec_iou, rec_dist = scores(rec, structures, structures)
            swap_iou, swap_dist = scores(swapped, structures, textures)
            rec_l1 = float((rec - s_img).abs().mean())
            row = f"{step:4d}  {rec_iou:7.3f}  {rec_dist:8.1f}  {rec_l1:6.3f}  {swap_iou:8.3f}  {swap_dist:9.1f}"
            print(f"{row}  {time.time() - start:7.0f}", flush=True)


if __name__ == "__main__":
    main()
