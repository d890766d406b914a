"""The Swapping Autoencoder objective (Park et al. 2020): reconstruction, GANs on reconstructions and swaps,
the patch co-occurrence GAN, and lazy R1 on both discriminators.

Each training phase accumulates gradients for one group of networks: 'Gmain' (E and G), 'Dmain'
(D and Dpatch, logistic losses), 'Dreg' (D and Dpatch, R1 on reals). A swap pairs each image of the
batch with its neighbour: swapped[i] decodes image i-1's structure code with image i's texture code,
so image i is the texture source whose crops Dpatch compares swapped[i]'s crops with.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..models import CooccurrenceDiscriminator, Discriminator, SwapEncoder, SwapGenerator
from ..training.augment import AUGPIPE_PRESETS, AugmentPipe
from ..training.loss import gradient_penalty
from .patches import sample_patches

PHASES = ("Gmain", "Dmain", "Dreg")


def patch_r1_penalty(patch_logits: torch.Tensor, patches: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """R1 for Dpatch, as the official code computes it: the squared norms of d logits / d judged patches and
    d logits / d reference patches, each summed over an image's crops and added, [N].

    `patches` and `reference` [N, K, C, p, p] must require grad and be the inputs of `patch_logits` [N, K]; the
    graph is kept so that the penalty can be differentiated with respect to Dpatch's weights.
    """
    judged, referred = torch.autograd.grad(outputs=[patch_logits.sum()], inputs=[patches, reference], create_graph=True)
    return judged.square().sum(dim=[1, 2, 3, 4]) + referred.square().sum(dim=[1, 2, 3, 4])


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Keep these networks' weights out of autograd for a while; gradients still flow through them to their inputs."""
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


class SwapAELoss:
    """Computes and back-propagates the losses of one phase on one minibatch slice.

    Weights (the paper's): `lambda_l1` on the L1 reconstruction error, `lambda_gan_rec` and
    `lambda_gan_swap` on the non-saturating GAN losses of reconstructions and swaps against D,
    `lambda_patch` on the co-occurrence GAN loss of swaps against Dpatch; R1 weights `r1_gamma` (D)
    and `patch_r1_gamma` (Dpatch). A zero weight skips its term (and its discriminator's losses).
    `recolor_structure` (ours) takes the structure codes of training images from recoloured copies
    and their texture codes from the originals, so that the colours of a reconstruction can only
    come from the texture code; `lambda_l2` (ours) weighs a squared-error reconstruction term, which
    unlike L1 rewards drawing a shape in the wrong colour over not drawing it.
    `num_patches` crops of `patch_size` px (default: Dpatch's), sides in [patch_min_scale,
    patch_max_scale] of the image, are judged per image against as many reference crops.
    """

    def __init__(
        self,
        E: SwapEncoder,
        G: SwapGenerator,
        D: Discriminator,
        Dpatch: CooccurrenceDiscriminator,
        *,
        lambda_l1: float = 1.0,
        lambda_gan_rec: float = 0.5,
        lambda_gan_swap: float = 1.0,
        lambda_patch: float = 1.0,
        r1_gamma: float = 10.0,
        patch_r1_gamma: float = 1.0,
        num_patches: int = 8,
        patch_size: int | None = None,
        patch_min_scale: float = 1 / 8,
        patch_max_scale: float = 1 / 4,
        lambda_l2: float = 0.0,
        recolor_structure: bool = False,
    ) -> None:
        weights = dict(lambda_l1=lambda_l1, lambda_l2=lambda_l2, lambda_gan_rec=lambda_gan_rec, lambda_gan_swap=lambda_gan_swap,
                       lambda_patch=lambda_patch, r1_gamma=r1_gamma, patch_r1_gamma=patch_r1_gamma)
        negative = {k: v for k, v in weights.items() if v < 0}
        if negative:
            raise ValueError(f"SwapAELoss: loss weights must be >= 0, got {negative}")
        patch_size = Dpatch.patch_size if patch_size is None else patch_size
        if patch_size != Dpatch.patch_size:
            raise ValueError(f"SwapAELoss: patch_size {patch_size} differs from the patch discriminator's {Dpatch.patch_size}")
        if num_patches < 1 or not 0 < patch_min_scale <= patch_max_scale <= 1:
            raise ValueError(f"SwapAELoss: need num_patches >= 1 and 0 < patch_min_scale <= patch_max_scale <= 1, "
                             f"got {num_patches}, {patch_min_scale} and {patch_max_scale}")
        self.E = E
        self.G = G
        self.D = D
        self.Dpatch = Dpatch
        self.lambda_l1 = lambda_l1
        self.lambda_gan_rec = lambda_gan_rec
        self.lambda_gan_swap = lambda_gan_swap
        self.lambda_patch = lambda_patch
        self.r1_gamma = r1_gamma
        self.patch_r1_gamma = patch_r1_gamma
        self.num_patches = num_patches
        self.patch_size = patch_size
        self.patch_min_scale = patch_min_scale
        self.patch_max_scale = patch_max_scale
        self.lambda_l2 = lambda_l2
        self.recolor_structure = recolor_structure
        # Random brightness, contrast, luma flip, hue and saturation for every image (p = 1).
        self.recolor = AugmentPipe(**AUGPIPE_PRESETS["color"]).to(next(E.parameters()).device)

    def encode(self, real_img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training codes (structure, texture) of the images; with `recolor_structure` the structure codes are those of
        recoloured copies (one E pass over both)."""
        if not self.recolor_structure:
            return self.E(real_img)
        n = real_img.shape[0]
        structure, texture = self.E(torch.cat([self.recolor(real_img).clamp(-1, 1), real_img]))
        return structure[:n], texture[n:]

    def run_EG(self, real_img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reconstructions, swaps, structure codes): swaps[i] = G(structure of image i-1, texture of image i); one G pass."""
        n = real_img.shape[0]
        structure, texture = self.encode(real_img)
        images = self.G(torch.cat([structure, structure.roll(1, dims=0)]), torch.cat([texture, texture]))
        return images[:n], images[n:], structure

    def sample_patches(self, img: torch.Tensor) -> torch.Tensor:
        """Random crops of every image, [N, num_patches, C, patch_size, patch_size]."""
        return sample_patches(img, self.num_patches, self.patch_size, self.patch_min_scale, self.patch_max_scale)

    def accumulate_gradients(self, phase: str, real_img: torch.Tensor, gain: float) -> dict[str, torch.Tensor]:
        """Back-propagate `gain` times this phase's mean loss over `real_img`; return detached scalar stats."""
        if phase not in PHASES:
            raise ValueError(f"unknown Swapping Autoencoder training phase {phase!r}; expected one of {PHASES}")
        real_img = real_img.detach().to(torch.float32)
        if phase != "Dreg" and real_img.shape[0] < 2:
            raise ValueError(f"SwapAELoss: swapping pairs images within a batch, so it needs at least 2 images, got {real_img.shape[0]}")
        if phase == "Gmain":
            return self._generator_step(real_img, gain)
        if phase == "Dmain":
            return self._discriminator_step(real_img, gain)
        return self._regularization_step(real_img, gain)

    def _generator_step(self, real_img: torch.Tensor, gain: float) -> dict[str, torch.Tensor]:
        """E and G: reconstruct (L1), fool D with reconstructions and swaps, fool Dpatch with swaps."""
        with frozen(self.D, self.Dpatch):
            rec, swapped, _ = self.run_EG(real_img)
            error = rec - real_img
            l1 = error.abs().mean()
            loss = self.lambda_l1 * l1
            stats = {"Loss/L1": l1.detach()}
            if self.lambda_l2 > 0:
                l2 = error.square().mean()
                loss = loss + self.lambda_l2 * l2
                stats["Loss/L2"] = l2.detach()
            if self.lambda_gan_rec > 0:
                g_rec = F.softplus(-self.D(rec, None)).mean()  # -log sigmoid(D(rec))
                loss = loss + self.lambda_gan_rec * g_rec
                stats["Loss/G/rec"] = g_rec.detach()
            if self.lambda_gan_swap > 0:
                g_swap = F.softplus(-self.D(swapped, None)).mean()
                loss = loss + self.lambda_gan_swap * g_swap
                stats["Loss/G/swap"] = g_swap.detach()
            if self.lambda_patch > 0:
                patch_logits = self.Dpatch(self.sample_patches(swapped), self.sample_patches(real_img))
                g_patch = F.softplus(-patch_logits).mean()
                loss = loss + self.lambda_patch * g_patch
                stats["Loss/G/patch"] = g_patch.detach()
            loss.mul(gain).backward()
        stats["Loss/G/loss"] = loss.detach()
        return stats

    def _discriminator_step(self, real_img: torch.Tensor, gain: float) -> dict[str, torch.Tensor]:
        """D: reals against reconstructions and swaps (equal shares); Dpatch: crops of a real against crops of a swap."""
        with torch.no_grad():
            rec, swapped, _ = self.run_EG(real_img)
        stats: dict[str, torch.Tensor] = {}
        loss = torch.zeros([], device=real_img.device)
        fakes = [img for img, weight in ((rec, self.lambda_gan_rec), (swapped, self.lambda_gan_swap)) if weight > 0]
        if fakes:
            real_logits = self.D(real_img, None)
            fake_logits = torch.cat([self.D(img, None) for img in fakes])  # one D call per kind keeps minibatch-std groups
            d_loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
            loss = loss + d_loss
            stats.update({"Loss/D/loss": d_loss.detach(), "Loss/scores/real": real_logits.detach().mean(),
                          "Loss/scores/fake": fake_logits.detach().mean()})
        if self.lambda_patch > 0:
            reference = self.sample_patches(real_img)  # the texture source's statistics, shared by both judgements
            real_logits = self.Dpatch(self.sample_patches(real_img), reference)
            fake_logits = self.Dpatch(self.sample_patches(swapped), reference)
            p_loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
            loss = loss + self.lambda_patch * p_loss
            stats.update({"Loss/D/patch": p_loss.detach(), "Loss/patch_scores/real": real_logits.detach().mean(),
                          "Loss/patch_scores/fake": fake_logits.detach().mean()})
        if stats:
            loss.mul(gain).backward()
        return stats

    def _regularization_step(self, real_img: torch.Tensor, gain: float) -> dict[str, torch.Tensor]:
        """R1 on reals: D w.r.t. real images at gamma/2; Dpatch w.r.t. its judged and reference real crops at
        patch gamma/4, as the official code weighs the two (0.5 * 0.5 * lambda_patch_R1)."""
        stats: dict[str, torch.Tensor] = {}
        loss = torch.zeros([], device=real_img.device)
        if self.r1_gamma > 0 and (self.lambda_gan_rec > 0 or self.lambda_gan_swap > 0):
            img = real_img.detach().requires_grad_(True)
            penalty = gradient_penalty(self.D(img, None), img)  # [N], R1
            loss = loss + penalty.mean() * (self.r1_gamma / 2)
            stats["Loss/r1_penalty"] = penalty.detach().mean()
        if self.patch_r1_gamma > 0 and self.lambda_patch > 0:
            patches = self.sample_patches(real_img).detach().requires_grad_(True)
            reference = self.sample_patches(real_img).detach().requires_grad_(True)
            penalty = patch_r1_penalty(self.Dpatch(patches, reference), patches, reference)  # [N]
            loss = loss + penalty.mean() * (self.patch_r1_gamma / 4)
            stats["Loss/patch_r1_penalty"] = penalty.detach().mean()
        if stats:
            loss.mul(gain).backward()
            stats["Loss/D/reg"] = loss.detach()
        return stats
