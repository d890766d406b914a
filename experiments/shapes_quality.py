"""Does a generator trained on builtin:shapes draw every shape class and every colour? A classifier and a colour probe decide.

    python experiments/shapes_quality.py --network RUN/network-snapshot-....safetensors [--samples 5000] [--grid out.png]
    python experiments/shapes_quality.py --real          # the same scores for real renders (calibration)

Shape class: a small CNN trained once on builtin:shapes renders (seed 0, cached next to
--classifier) reads each sample as circle, square, triangle, star or cross. Colours: the
background colour is the median of the image's border pixels, the foreground colour the median of
the pixels at least 48 away from it (the dataset keeps the two at least 96 apart); each is binned
into the 8 octants of the RGB cube. A generator covers the modes when every shape class has
between 0.6x and 1.5x its fair share of the samples (12-30%) and every colour octant, for
foreground and background, between 0.6x and 1.5x its share among real renders. Also printed:
the samples with no visible shape, the classifier's mean confidence, and a Frechet distance
between the classifier's penultimate features of the samples and of as many real renders.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scoring import MIN_SAMPLES, SHAPES_CLASSIFIER, SNAPSHOT_FILE, classifier_help, new_png, require_file
from scoring.samples import seed_latents
from scoring.shapes import ShapeNet, real_renders, train_classifier

from stylegan2.data.shapes import SHAPE_CLASSES
from stylegan2.metrics.scores import frechet_distance

BALANCE = (0.6, 1.5)  # each mode's share of the samples over its share of real data, at least / at most
FOREGROUND_DISTANCE = 48.0  # RGB distance from the background that makes a pixel part of the shape


def colours(images: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per image: background RGB (median of the border), foreground RGB (median of the pixels far from
    it) and whether a shape is visible at all (at least 10 such pixels)."""
    pixels = (images.clamp(-1, 1) * 127.5 + 127.5).permute(0, 2, 3, 1)  # [N, H, W, 3] in [0, 255]
    border = torch.cat([pixels[:, 0], pixels[:, -1], pixels[:, 1:-1, 0], pixels[:, 1:-1, -1]], dim=1)  # [N, P, 3]
    background = border.median(dim=1).values  # [N, 3]
    far = (pixels - background[:, None, None]).norm(dim=3) >= FOREGROUND_DISTANCE  # [N, H, W]
    foreground = torch.stack([pixels[n][far[n]].median(dim=0).values if far[n].sum() >= 10 else background[n]
                              for n in range(len(pixels))])
    return background.numpy(), foreground.numpy(), (far.flatten(1).sum(1) >= 10).numpy()


def octant_shares(rgb: np.ndarray) -> np.ndarray:
    """Share of the colours in each octant of the RGB cube (bit 2: red >= 128, bit 1: green, bit 0: blue)."""
    octant = (rgb[:, 0] >= 128) * 4 + (rgb[:, 1] >= 128) * 2 + (rgb[:, 2] >= 128)
    return np.bincount(octant.astype(int), minlength=8) / len(rgb)


@torch.no_grad()
def score(net: ShapeNet, images: torch.Tensor, reference: torch.Tensor) -> dict:
    """Class and colour shares of `images`, their coverage against `reference` (real renders), and the feature distance."""
    quantized = (images * 127.5 + 128).clamp(0, 255).floor() / 127.5 - 1  # what would be saved to disk
    probs = torch.cat([F.softmax(net(x), dim=1) for x in quantized.split(500)])
    classes = np.bincount(probs.argmax(1).numpy(), minlength=len(SHAPE_CLASSES)) / len(images)
    bg, fg, visible = colours(quantized)
    ref_bg, ref_fg, _ = colours(reference)
    feats = torch.cat([net.features(x) for x in quantized.split(500)]).double().numpy()
    ref_feats = torch.cat([net.features(x) for x in reference.split(500)]).double().numpy()
    return dict(
        classes=classes, fg=octant_shares(fg), bg=octant_shares(bg), ref_fg=octant_shares(ref_fg), ref_bg=octant_shares(ref_bg),
        visible=float(visible.mean()), confidence=probs.max(1).values.mean().item(),
        fid=frechet_distance(feats.mean(0), np.cov(feats, rowvar=False), ref_feats.mean(0), np.cov(ref_feats, rowvar=False)),
    )


def covered(shares: np.ndarray, reference: np.ndarray) -> bool:
    ratio = shares / np.maximum(reference, 1e-9)
    return bool(ratio.min() >= BALANCE[0] and ratio.max() <= BALANCE[1])


def report(s: dict) -> str:
    fair = np.full(len(SHAPE_CLASSES), 1 / len(SHAPE_CLASSES))
    ok = covered(s["classes"], fair) and covered(s["fg"], s["ref_fg"]) and covered(s["bg"], s["ref_bg"])
    return "\n".join([
        "shape classes: " + " ".join(f"{name} {share:.1%}" for name, share in zip(SHAPE_CLASSES, s["classes"])),
        "foreground octants (real): " + " ".join(f"{a:.1%} ({b:.1%})" for a, b in zip(s["fg"], s["ref_fg"])),
        "background octants (real): " + " ".join(f"{a:.1%} ({b:.1%})" for a, b in zip(s["bg"], s["ref_bg"])),
        f"visible shape {s['visible']:.1%}, mean confidence {s['confidence']:.3f}, feature FID {s['fid']:.2f}",
        f"classes covered: {'yes' if covered(s['classes'], fair) else 'no'}; colours covered: "
        f"{'yes' if covered(s['fg'], s['ref_fg']) and covered(s['bg'], s['ref_bg']) else 'no'} "
        f"(each share {BALANCE[0]:g}x-{BALANCE[1]:g}x of real); all modes covered: {'yes' if ok else 'no'}",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", help="a snapshot (.safetensors) trained on builtin:shapes at 32 px")
    parser.add_argument("--samples", type=int, default=5000, help="images of G to score (default %(default)s)")
    parser.add_argument("--classifier", default=SHAPES_CLASSIFIER, help=classifier_help(SHAPES_CLASSIFIER))
    parser.add_argument("--grid", type=new_png, help="also save a 10x10 grid of the first 100 samples here")
    parser.add_argument("--real", action="store_true", help="score real renders instead (calibration)")
    args = parser.parse_args()
    if not args.real and not args.network:
        parser.error("give --network SNAPSHOT, or --real to score real renders")
    if args.samples < MIN_SAMPLES:
        parser.error(f"--samples must be at least {MIN_SAMPLES} (the feature FID needs two), got {args.samples}")
    if args.network and not args.real:
        require_file(parser, "--network", args.network, f"{SNAPSHOT_FILE} from a builtin:shapes run")

    from stylegan2.io import load_network
    from stylegan2.utils.image import make_grid, save_image, to_uint8

    net = train_classifier(Path(args.classifier))
    reference, _ = real_renders(200000, args.samples)
    if args.real:
        images, _ = real_renders(300000, args.samples)
    else:
        G = (lambda nets: nets.get("G_ema") or nets["G"])(load_network(args.network))
        z = seed_latents(G.z_dim, args.samples)
        with torch.no_grad():
            # A network trained on clusters (--clusters) draws its own from z, as it does for users.
            images = torch.cat([G(zz, None if G.mapping.draws_labels else torch.zeros(len(zz), G.c_dim), noise_mode="const")
                                for zz in z.split(100)])
    print(report(score(net, images, reference)))
    if args.grid:
        save_image(make_grid(to_uint8(images[:100]).numpy(), 10, 10), args.grid)


if __name__ == "__main__":
    main()
