"""How many images does StyleGAN2's synthesis network need to draw builtin:shapes when it is told everything?

    python experiments/shapes_oracle.py --kimg 512 --cbase 1024 --cmax 32 --grid oracle.png

No GAN, no encoder, no latent to infer: a small fully connected network maps each item's true
factors (shape class, centre, size, rotation, foreground and background colour) to one w,
`SynthesisNetwork` draws it, and the L1 distance to the real render is the only loss (Adam at the
`cpu` preset's rate and betas, batch 32, items 0-9,999 as in builtin:shapes). Every --every kimg it
prints, for items 10,000-10,999, which it never trains on: the L1 distance, the mask IoU (each
pixel assigned to the nearer of the item's two true colours) and how often the shape classifier
that shapes_quality.py uses reads the drawing as the item's true class, with the classes it reads;
and the seconds spent on training steps so far (not counting these evaluations). The kimg this
takes show how slowly the network itself learns the outlines; they bound no GAN (L1 accepts a
rounded corner, a discriminator need not). Used in docs/experiments/unconditional.md ("Told
everything").
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from scoring import SHAPES_CLASSIFIER, classifier_help, new_png
from scoring.shapes import train_classifier
from torch import nn

from stylegan2.data.shapes import SHAPE_CLASSES, ShapeSample, render_shape, shape_geometry
from stylegan2.data.sources import SHAPES_SIZE
from stylegan2.models.synthesis import ARCHITECTURES, SynthesisNetwork
from stylegan2.nn.layers import FullyConnectedLayer
from stylegan2.training.config import PRESETS

RESOLUTION = 32
HELD_OUT = range(SHAPES_SIZE, SHAPES_SIZE + 1000)  # items builtin:shapes does not hold
CPU = PRESETS["cpu"]  # batch, w size and learning rate as the cpu preset trains
SYMMETRY_ORDERS = (1, 3, 4, 5)  # the rotation enters as cos/sin of k * angle, so each shape's visible turn is smooth


def factors(index: int, item: ShapeSample) -> np.ndarray:
    """float32 [22]: the true factors of item `index` (rendered as `item`) as network inputs, each in about [-1, 1]."""
    g = shape_geometry(index, RESOLUTION)
    angles = np.array(SYMMETRY_ORDERS) * g.rotation
    return np.concatenate([np.eye(len(SHAPE_CLASSES))[item.label], np.array([g.cx, g.cy, g.radius]) / RESOLUTION,
                           np.cos(angles), np.sin(angles), item.fg_color / 255, item.bg_color / 255]).astype(np.float32)


def items(indices: range) -> dict[str, torch.Tensor]:
    """Factors, images in [-1, 1], masks, labels and colours of the given builtin:shapes items."""
    renders = [render_shape(i, RESOLUTION) for i in indices]
    return dict(factors=torch.from_numpy(np.stack([factors(i, r) for i, r in zip(indices, renders)])),
                images=torch.from_numpy(np.stack([r.image for r in renders])).float() / 127.5 - 1,
                masks=torch.from_numpy(np.stack([r.mask for r in renders])),
                labels=torch.tensor([r.label for r in renders]),
                fg=torch.from_numpy(np.stack([r.fg_color for r in renders])).float() / 127.5 - 1,
                bg=torch.from_numpy(np.stack([r.bg_color for r in renders])).float() / 127.5 - 1)


class Renderer(nn.Module):
    """True factors -> one w (three fully connected layers) -> SynthesisNetwork, without noise."""

    def __init__(self, num_factors: int, cbase: int, cmax: int, architecture: str) -> None:
        super().__init__()
        self.to_w = nn.Sequential(FullyConnectedLayer(num_factors, CPU.w_dim, activation="lrelu"),
                                  FullyConnectedLayer(CPU.w_dim, CPU.w_dim, activation="lrelu"), FullyConnectedLayer(CPU.w_dim, CPU.w_dim))
        self.synthesis = SynthesisNetwork(w_dim=CPU.w_dim, img_resolution=RESOLUTION, img_channels=3,
                                          channel_base=cbase, channel_max=cmax, architecture=architecture)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        ws = self.to_w(f).unsqueeze(1).repeat(1, self.synthesis.num_ws, 1)
        return self.synthesis(ws, noise_mode="none")


@torch.no_grad()
def evaluate(renderer: Renderer, classifier: nn.Module, test: dict[str, torch.Tensor]) -> tuple[str, torch.Tensor]:
    """One report line on the held-out items, and their drawings."""
    drawn = torch.cat([renderer(f) for f in test["factors"].split(250)])
    saved = (drawn * 127.5 + 128).clamp(0, 255).floor() / 127.5 - 1  # what would be written to disk
    read = torch.cat([classifier(x).argmax(1) for x in saved.split(500)])
    shares = np.bincount(read.numpy(), minlength=len(SHAPE_CLASSES)) / len(read)
    to_fg = (drawn - test["fg"][:, :, None, None]).square().sum(1)
    to_bg = (drawn - test["bg"][:, :, None, None]).square().sum(1)
    mask, truth = to_fg < to_bg, test["masks"]
    iou = ((mask & truth).sum((1, 2)) / (mask | truth).sum((1, 2)).clamp(min=1)).mean().item()
    return (f"L1 {(drawn - test['images']).abs().mean().item():.3f}, mask IoU {iou:.3f}, "
            f"read as its class {(read == test['labels']).float().mean().item():.1%}, read as "
            + " / ".join(f"{name} {share:.1%}" for name, share in zip(SHAPE_CLASSES, shares))), drawn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kimg", type=float, default=512, help="train on this many thousand images (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=None, help="also stop after this much training time")
    parser.add_argument("--cbase", type=int, default=1024, help="channel_base as in `stylegan2 train` (default %(default)s: half width)")
    parser.add_argument("--cmax", type=int, default=32, help="channel_max (default %(default)s)")
    parser.add_argument("--architecture", choices=ARCHITECTURES, default="skip",
                        help="the synthesis blocks' wiring, as NVIDIA's (default %(default)s: the cpu preset's)")
    parser.add_argument("--lr", type=float, default=CPU.lrate, help=f"Adam's learning rate (default: the cpu preset's {CPU.lrate:g})")
    parser.add_argument("--every", type=float, default=8, help="evaluate every this many kimg (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--classifier", default=SHAPES_CLASSIFIER, help=classifier_help(SHAPES_CLASSIFIER))
    parser.add_argument("--grid", type=new_png, help="save 16 held-out items (top) and their drawings (bottom) here at the end")
    args = parser.parse_args()
    for name in ("kimg", "seconds", "every", "lr"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive, got {getattr(args, name):g}")
    if args.cbase < 1 or args.cmax < 1:
        parser.error(f"--cbase and --cmax must be positive, got {args.cbase} and {args.cmax}")

    torch.manual_seed(args.seed)
    classifier = train_classifier(Path(args.classifier))
    train, test = items(range(SHAPES_SIZE)), items(HELD_OUT)
    renderer = Renderer(train["factors"].shape[1], args.cbase, args.cmax, args.architecture)
    print(f"synthesis: {sum(p.numel() for p in renderer.synthesis.parameters()):,} parameters", flush=True)
    opt = torch.optim.Adam(renderer.parameters(), lr=args.lr, betas=(0.0, 0.99), eps=1e-8)
    batches = torch.Generator().manual_seed(args.seed)
    trained, seen, next_report = 0.0, 0, args.every * 1000
    while True:
        start = time.monotonic()
        idx = torch.randint(0, SHAPES_SIZE, (CPU.batch,), generator=batches)
        loss = (renderer(train["factors"][idx]) - train["images"][idx]).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        trained += time.monotonic() - start
        seen += CPU.batch
        done = seen >= args.kimg * 1000 or (args.seconds is not None and trained >= args.seconds)
        if seen >= next_report or done:
            line, drawn = evaluate(renderer, classifier, test)
            print(f"{seen / 1000:7.1f} kimg {trained:6.0f} s  {line}", flush=True)
            next_report += args.every * 1000
        if done:
            break
    if args.grid:
        from stylegan2.utils.image import make_grid, save_image, to_uint8
        pairs = torch.cat([test["images"][:16], drawn[:16]])
        save_image(make_grid(to_uint8(pairs).numpy(), 16, 2), args.grid)


if __name__ == "__main__":
    main()
