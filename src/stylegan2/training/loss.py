"""Training objectives: NVIDIA's StyleGAN2 loss, and the R3GAN relativistic pairing loss.

Each training phase accumulates gradients for one network: 'Gmain' (fool D), 'Greg' (path
length), 'Dmain' (tell reals from fakes) and 'Dreg' (gradient penalties), the regularization
phases run lazily (every few minibatches) by the training loop.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from ..models import Discriminator, Generator

PHASES = ("Gmain", "Greg", "Dmain", "Dreg")


def gradient_penalty(logits: torch.Tensor, img: torch.Tensor) -> torch.Tensor:
    """Squared norm of dD/dx per sample [N]: R1 on real images, R2 on generated ones (Mescheder et al. 2018).

    `img` must require grad and be the input `logits` were computed from; the graph is kept so the
    penalty itself can be differentiated with respect to D's weights.
    """
    (grads,) = torch.autograd.grad(outputs=[logits.sum()], inputs=[img], create_graph=True)
    return grads.square().sum(dim=[1, 2, 3])


def pack_samples(img: torch.Tensor, c: torch.Tensor, pack: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack each run of `pack` consecutive samples along channels, and their labels side by side.

    PacGAN (Lin et al. 2018): a discriminator that judges several samples at once sees a collapsed
    generator's lack of variety directly.
    """
    n, ch, h, w = img.shape
    return img.reshape(n // pack, ch * pack, h, w), c.reshape(n // pack, -1)


def pl_lengths(img: torch.Tensor, ws: torch.Tensor) -> torch.Tensor:
    """Per-sample |J_w^T y| for random images y ~ N(0, I) / sqrt(H W) (the path-length term), [N]."""
    noise = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
    (grads,) = torch.autograd.grad(outputs=[(img * noise).sum()], inputs=[ws], create_graph=True)
    return grads.square().sum(dim=2).mean(dim=1).sqrt()


class StyleGAN2Loss:
    """NVIDIA's objective: non-saturating logistic loss, lazy R1 on reals and path-length regularization.

    Computes and back-propagates the losses of one phase on one minibatch slice.
    """

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
            raise ValueError(f"unknown training phase {phase!r}; expected one of {', '.join(PHASES)}")
        if phase == "Gmain":
            return self.G_main(real_img, real_c, gen_z, gen_c, gain)
        if phase == "Greg":
            return self.G_reg(gen_z, gen_c, gain) if self.pl_weight != 0 else {}
        if phase == "Dmain":
            return self.D_main(real_img, real_c, gen_z, gen_c, gain)
        return self.D_reg(real_img, real_c, gen_z, gen_c, gain) if self.r1_gamma != 0 else {}

    def G_main(self, real_img: torch.Tensor, real_c: torch.Tensor, gen_z: torch.Tensor, gen_c: torch.Tensor,
               gain: float) -> dict[str, torch.Tensor]:
        """-log sigmoid(D(G(z))): G makes D call its images real."""
        gen_img, _ = self.run_G(gen_z, gen_c)
        gen_logits = self.run_D(gen_img, gen_c)
        loss_G = F.softplus(-gen_logits)
        loss_G.mean().mul(gain).backward()
        return {"Loss/G/loss": loss_G.detach(), "Loss/scores/fake": gen_logits.detach(),
                "Loss/signs/fake": gen_logits.detach().sign()}

    def G_reg(self, gen_z: torch.Tensor, gen_c: torch.Tensor, gain: float) -> dict[str, torch.Tensor]:
        """Path-length regularization: |J_w^T y| kept near its running mean, on a shrunk batch."""
        batch = max(gen_z.shape[0] // self.pl_batch_shrink, 1)
        gen_img, gen_ws = self.run_G(gen_z[:batch], gen_c[:batch])
        lengths = pl_lengths(gen_img, gen_ws)
        pl_mean = self.pl_mean.lerp(lengths.mean(), self.pl_decay)
        self.pl_mean.copy_(pl_mean.detach())
        pl_penalty = (lengths - pl_mean).square()
        loss_Gpl = pl_penalty * self.pl_weight
        # `gen_img[:, 0, 0, 0] * 0` ties the loss to every parameter of the synthesis graph.
        (gen_img[:, 0, 0, 0] * 0 + loss_Gpl).mean().mul(gain).backward()
        return {"Loss/pl_penalty": pl_penalty.detach(), "Loss/G/reg": loss_Gpl.detach()}

    def D_main(self, real_img: torch.Tensor, real_c: torch.Tensor, gen_z: torch.Tensor, gen_c: torch.Tensor,
               gain: float) -> dict[str, torch.Tensor]:
        """-log(1 - sigmoid(D(G(z)))) - log sigmoid(D(x)): D tells reals from fakes."""
        with torch.no_grad():
            gen_img, _ = self.run_G(gen_z, gen_c)
        gen_logits = self.run_D(gen_img, gen_c)
        loss_Dgen = F.softplus(gen_logits)
        loss_Dgen.mean().mul(gain).backward()
        real_logits = self.run_D(real_img.detach(), real_c)
        loss_Dreal = F.softplus(-real_logits)
        loss_Dreal.mean().mul(gain).backward()
        return {"Loss/scores/fake": gen_logits.detach(), "Loss/signs/fake": gen_logits.detach().sign(),
                "Loss/scores/real": real_logits.detach(), "Loss/signs/real": real_logits.detach().sign(),
                "Loss/D/loss": (loss_Dgen + loss_Dreal).detach()}

    def D_reg(self, real_img: torch.Tensor, real_c: torch.Tensor, gen_z: torch.Tensor, gen_c: torch.Tensor,
              gain: float) -> dict[str, torch.Tensor]:
        """R1: (gamma / 2) |dD/dx|^2 on reals, one value per D input (a pack with --pack)."""
        real_img_tmp = real_img.detach().requires_grad_(True)
        real_logits = self.run_D(real_img_tmp, real_c)
        penalty = self._per_input(gradient_penalty(real_logits, real_img_tmp))
        loss_Dr1 = penalty * (self.r1_gamma / 2)
        (real_logits * 0 + loss_Dr1.unsqueeze(1)).mean().mul(gain).backward()
        return {"Loss/scores/real": real_logits.detach(), "Loss/signs/real": real_logits.detach().sign(),
                "Loss/r1_penalty": penalty.detach(), "Loss/D/reg": loss_Dr1.detach()}

    def _per_input(self, penalty: torch.Tensor) -> torch.Tensor:
        """Per-sample penalties summed over each pack: the penalty of D's own (packed) input."""
        return penalty.reshape(-1, self.pack).sum(dim=1)


class R3GANLoss(StyleGAN2Loss):
    """The R3GAN objective (Huang et al., NeurIPS 2024, "The GAN is dead; long live the GAN!").

    Relativistic pairing: each real x_i is paired with a fake G(z_i) and D is trained on the
    difference of their logits, L_D = softplus(D(G(z)) - D(x)), L_G = softplus(D(x) - D(G(z))).
    Zero-centred gradient penalties on both sides, R1 on reals and R2 on fakes, each weighted
    gamma / 2, make the game converge locally; they run lazily in the 'Dreg' phase. A fake is made
    with its real partner's label, so a conditional pair compares the same class. The path-length
    term, style mixing, packing and augmentation work as in StyleGAN2Loss.
    """

    def G_main(self, real_img: torch.Tensor, real_c: torch.Tensor, gen_z: torch.Tensor, gen_c: torch.Tensor,
               gain: float) -> dict[str, torch.Tensor]:
        """softplus(D(x) - D(G(z))): G raises its images' logits above their real partners'."""
        gen_img, _ = self.run_G(gen_z, real_c)
        gen_logits = self.run_D(gen_img, real_c)
        with torch.no_grad():  # the real side is a constant for G
            real_logits = self.run_D(real_img, real_c)
        loss_G = F.softplus(real_logits - gen_logits)
        loss_G.mean().mul(gain).backward()
        return {"Loss/G/loss": loss_G.detach(), "Loss/scores/fake": gen_logits.detach(),
                "Loss/signs/fake": gen_logits.detach().sign()}

    def D_main(self, real_img: torch.Tensor, real_c: torch.Tensor, gen_z: torch.Tensor, gen_c: torch.Tensor,
               gain: float) -> dict[str, torch.Tensor]:
        """softplus(D(G(z)) - D(x)): D ranks each real above its paired fake.

        'Loss/signs/real' (what ADA's r_t averages) is sign(D(x) - D(G(z))): the relativistic loss
        fixes only differences of logits, so sign(D(x)) alone would carry no meaning.
        """
        with torch.no_grad():
            gen_img, _ = self.run_G(gen_z, real_c)
        gen_logits = self.run_D(gen_img, real_c)
        real_logits = self.run_D(real_img.detach(), real_c)
        margin = real_logits - gen_logits
        loss_D = F.softplus(-margin)
        loss_D.mean().mul(gain).backward()
        return {"Loss/scores/fake": gen_logits.detach(), "Loss/signs/fake": gen_logits.detach().sign(),
                "Loss/scores/real": real_logits.detach(), "Loss/signs/real": margin.detach().sign(),
                "Loss/D/loss": loss_D.detach()}

    def D_reg(self, real_img: torch.Tensor, real_c: torch.Tensor, gen_z: torch.Tensor, gen_c: torch.Tensor,
              gain: float) -> dict[str, torch.Tensor]:
        """R1 + R2: (gamma / 2) (|dD/dx|^2 + |dD/dG(z)|^2), one value each per D input."""
        real_img_tmp = real_img.detach().requires_grad_(True)
        real_logits = self.run_D(real_img_tmp, real_c)
        r1 = self._per_input(gradient_penalty(real_logits, real_img_tmp))
        with torch.no_grad():
            gen_img, _ = self.run_G(gen_z, real_c)
        gen_img_tmp = gen_img.detach().requires_grad_(True)
        gen_logits = self.run_D(gen_img_tmp, real_c)
        r2 = self._per_input(gradient_penalty(gen_logits, gen_img_tmp))
        loss_Dreg = (r1 + r2) * (self.r1_gamma / 2)
        (real_logits * 0 + gen_logits * 0 + loss_Dreg.unsqueeze(1)).mean().mul(gain).backward()
        return {"Loss/signs/real": (real_logits - gen_logits).detach().sign(), "Loss/r1_penalty": r1.detach(),
                "Loss/r2_penalty": r2.detach(), "Loss/D/reg": loss_Dreg.detach()}


LOSSES: dict[str, type[StyleGAN2Loss]] = {"stylegan2": StyleGAN2Loss, "r3gan": R3GANLoss}  # --loss
