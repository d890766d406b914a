"""The StyleGAN2 objective: non-saturating logistic loss, lazy R1 and path-length regularization.

Each training phase accumulates gradients for one network: 'Gmain' (fool D), 'Greg' (path
length), 'Dmain' (tell reals from fakes), 'Dreg' (R1 on reals), or 'Gboth'/'Dboth' when
regularization is not lazy.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from ..models import Discriminator, Generator

PHASES = ("Gmain", "Greg", "Gboth", "Dmain", "Dreg", "Dboth")


def r1_penalty(real_logits: torch.Tensor, real_img: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): squared norm of dD/dx on real images, per sample [N].

    `real_img` must require grad and be the input `real_logits` were computed from; the graph is
    kept so the penalty itself can be differentiated with respect to D's weights.
    """
    (grads,) = torch.autograd.grad(outputs=[real_logits.sum()], inputs=[real_img], create_graph=True)
    return grads.square().sum(dim=[1, 2, 3])


def pack_samples(img: torch.Tensor, c: torch.Tensor, pack: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack each run of `pack` consecutive samples along channels, and their labels side by side.

    PacGAN (Lin et al. 2018): a discriminator that judges several samples at once sees a collapsed
    generator's lack of variety directly.
    """
    n, ch, h, w = img.shape
    return img.reshape(n // pack, ch * pack, h, w), c.reshape(n // pack, -1)


def path_lengths(img: torch.Tensor, ws: torch.Tensor) -> torch.Tensor:
    """Per-sample |J_w^T y| for random images y ~ N(0, I) / sqrt(H W) (the path-length term), [N]."""
    noise = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
    (grads,) = torch.autograd.grad(outputs=[(img * noise).sum()], inputs=[ws], create_graph=True)
    return grads.square().sum(dim=2).mean(dim=1).sqrt()


class StyleGAN2Loss:
    """Computes and back-propagates the losses of one phase on one minibatch slice."""

    def __init__(
        self,
        G: Generator,
        D: Discriminator,
        augment_pipe: Callable[[torch.Tensor], torch.Tensor] | None = None,
        r1_gamma: float = 10.0,
        style_mixing_prob: float = 0.9,
        pl_weight: float = 2.0,
        pl_batch_shrink: int = 2,
        pl_decay: float = 0.01,
        pack: int = 1,
    ) -> None:
        self.G = G
        self.D = D
        self.augment_pipe = augment_pipe
        self.r1_gamma = r1_gamma
        self.style_mixing_prob = style_mixing_prob
        self.pl_weight = pl_weight
        self.pl_batch_shrink = pl_batch_shrink
        self.pack = pack
        self.pl_decay = pl_decay
        self.pl_mean = torch.zeros([], device=next(G.parameters()).device)

    def run_G(self, z: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Generate images, mixing in the ws of a second z after a random layer (style mixing)."""
        ws = self.G.mapping(z, c, update_emas=True)
        if self.style_mixing_prob > 0:
            num_ws = ws.shape[1]
            cutoff = torch.randint(1, num_ws, (), device=ws.device)
            mix = torch.rand([], device=ws.device) < self.style_mixing_prob
            cutoff = torch.where(mix, cutoff, torch.full_like(cutoff, num_ws))
            layer = torch.arange(num_ws, device=ws.device).reshape(1, -1, 1)
            ws = torch.where(layer >= cutoff, self.G.mapping(torch.randn_like(z), c), ws)
        return self.G.synthesis(ws), ws

    def run_D(self, img: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """D's logits for augmented images: one per sample, or one per pack of `pack` samples."""
        if self.augment_pipe is not None:
            img = self.augment_pipe(img)
        if self.pack > 1:
            img, c = pack_samples(img, c, self.pack)
        return self.D(img, c)

    def accumulate_gradients(
        self,
        phase: str,
        real_img: torch.Tensor,
        real_c: torch.Tensor,
        gen_z: torch.Tensor,
        gen_c: torch.Tensor,
        gain: float,
    ) -> dict[str, torch.Tensor]:
        """Back-propagate `gain` times this phase's loss; return the detached values to log."""
        if phase not in PHASES:
            raise ValueError(f"unknown training phase {phase!r}")
        do_Gmain = phase in ("Gmain", "Gboth")
        do_Dmain = phase in ("Dmain", "Dboth")
        do_Gpl = phase in ("Greg", "Gboth") and self.pl_weight != 0
        do_Dr1 = phase in ("Dreg", "Dboth") and self.r1_gamma != 0
        stats: dict[str, torch.Tensor] = {}

        if do_Gmain:
            gen_img, _ = self.run_G(gen_z, gen_c)
            gen_logits = self.run_D(gen_img, gen_c)
            loss_Gmain = F.softplus(-gen_logits)  # -log sigmoid(D(G(z)))
            loss_Gmain.mean().mul(gain).backward()
            stats.update({"Loss/G/loss": loss_Gmain.detach(), "Loss/scores/fake": gen_logits.detach()})

        if do_Gpl:
            batch = max(gen_z.shape[0] // self.pl_batch_shrink, 1)
            gen_img, gen_ws = self.run_G(gen_z[:batch], gen_c[:batch])
            lengths = path_lengths(gen_img, gen_ws)
            pl_mean = self.pl_mean.lerp(lengths.mean(), self.pl_decay)
            self.pl_mean.copy_(pl_mean.detach())
            pl_penalty = (lengths - pl_mean).square()
            loss_Gpl = pl_penalty * self.pl_weight
            # `gen_img[:, 0, 0, 0] * 0` ties the loss to every parameter of the synthesis graph.
            (gen_img[:, 0, 0, 0] * 0 + loss_Gpl).mean().mul(gain).backward()
            stats.update({"Loss/pl_penalty": pl_penalty.detach(), "Loss/G/reg": loss_Gpl.detach()})

        loss_Dgen = None
        if do_Dmain:
            with torch.no_grad():
                gen_img, _ = self.run_G(gen_z, gen_c)
            gen_logits = self.run_D(gen_img, gen_c)
            loss_Dgen = F.softplus(gen_logits)  # -log(1 - sigmoid(D(G(z))))
            loss_Dgen.mean().mul(gain).backward()
            stats["Loss/scores/fake"] = gen_logits.detach()

        if do_Dmain or do_Dr1:
            real_img_tmp = real_img.detach().requires_grad_(do_Dr1)
            real_logits = self.run_D(real_img_tmp, real_c)
            stats.update({"Loss/scores/real": real_logits.detach(), "Loss/signs/real": real_logits.detach().sign()})
            loss = real_logits * 0
            if do_Dmain:
                loss_Dreal = F.softplus(-real_logits)  # -log sigmoid(D(x))
                loss = loss + loss_Dreal
                stats["Loss/D/loss"] = (loss_Dgen + loss_Dreal).detach()
            if do_Dr1:
                penalty = r1_penalty(real_logits, real_img_tmp).reshape(-1, self.pack).sum(dim=1)  # per D input
                loss_Dr1 = penalty * (self.r1_gamma / 2)
                loss = loss + loss_Dr1.unsqueeze(1)
                stats.update({"Loss/r1_penalty": penalty.detach(), "Loss/D/reg": loss_Dr1.detach()})
            loss.mean().mul(gain).backward()
        return stats
