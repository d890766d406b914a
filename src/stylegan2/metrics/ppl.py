"""Perceptual path length (Karras et al. 2019): LPIPS distance between images an epsilon apart in latent space.

Needs NVIDIA's VGG16 LPIPS TorchScript (`vgg16.pt`), called as
`vgg16(img, resize_images=False, return_lpips=True)` on float images in [0, 255].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from ..utils.progress import progress_bar
from .detectors import NvidiaScriptDetector
from .features import PassOptions, draws_labels, gather_rows, random_labels


@dataclass(frozen=True)
class PPLConfig:
    """Which path is measured: latent space 'z' or 'w', 'full' paths or their 'end' points, optional face crop."""

    space: str = "w"
    sampling: str = "end"
    crop: bool = False
    epsilon: float = 1e-4

    def __post_init__(self) -> None:
        if self.space not in ("z", "w") or self.sampling not in ("full", "end"):
            raise ValueError(f"PPL space must be 'z' or 'w' and sampling 'full' or 'end', got {self.space!r}, "
                             f"{self.sampling!r}")


def slerp_unit(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between the directions of a and b, with unit norm: NVIDIA's PPL paths in Z
    (`tools.video.slerp` instead keeps z at a typical norm)."""
    a = a / a.norm(dim=-1, keepdim=True)
    b = b / b.norm(dim=-1, keepdim=True)
    cos = (a * b).sum(dim=-1, keepdim=True)
    angle = t * torch.acos(cos)
    ortho = b - cos * a
    ortho = ortho / ortho.norm(dim=-1, keepdim=True)
    out = a * torch.cos(angle) + ortho * torch.sin(angle)
    return out / out.norm(dim=-1, keepdim=True)


def randomize_noise_buffers(G: nn.Module, gen: torch.Generator) -> None:
    """Draw new constant noise maps so each PPL batch sees fresh noise while both path ends share it."""
    for name, buf in G.named_buffers():
        if name.endswith("noise_const"):
            buf.copy_(torch.randn(buf.shape, generator=gen, device=buf.device, dtype=buf.dtype))


def ppl_images(G: nn.Module, c: torch.Tensor, cfg: PPLConfig, gen: torch.Generator) -> torch.Tensor:
    """Images at path positions t and t + epsilon, stacked: [2N, 3, H', W'] floats in [0, 255]."""
    n = c.shape[0]
    t = torch.rand([n], generator=gen, device=c.device) * (1.0 if cfg.sampling == "full" else 0.0)
    z0, z1 = torch.randn([2 * n, G.z_dim], generator=gen, device=c.device).chunk(2)
    if cfg.space == "w":
        w0, w1 = G.mapping(torch.cat([z0, z1]), torch.cat([c, c])).chunk(2)  # [N, num_ws, w_dim] each
        tt = t[:, None, None]
        ws = torch.cat([w0.lerp(w1, tt), w0.lerp(w1, tt + cfg.epsilon)])
    else:
        tt = t[:, None]
        zt = torch.cat([slerp_unit(z0, z1, tt), slerp_unit(z0, z1, tt + cfg.epsilon)])
        ws = G.mapping(zt, torch.cat([c, c]))
    randomize_noise_buffers(G, gen)
    img = G.synthesis(ws, noise_mode="const", force_fp32=True)  # [2N, C, H, W]
    if cfg.crop:
        qh, qw = img.shape[2] // 8, img.shape[3] // 8
        img = img[:, :, qh * 3:qh * 7, qw * 2:qw * 6]  # the face region used for FFHQ in the StyleGAN paper
    factor = G.img_resolution // 256  # as NVIDIA's, from before the crop; the shorter side for non-square networks
    if factor > 1:
        img = img.reshape(img.shape[0], img.shape[1], img.shape[2] // factor, factor,
                          img.shape[3] // factor, factor).mean(dim=(3, 5))  # box-downsample to 256
    img = (img + 1) * (255 / 2)
    return img.repeat(1, 3, 1, 1) if img.shape[1] == 1 else img


@torch.no_grad()
def path_lengths(G: nn.Module, dataset: Dataset, vgg16: NvidiaScriptDetector, cfg: PPLConfig, num_samples: int,
                 opts: PassOptions) -> np.ndarray:
    """Per-sample squared LPIPS distance / epsilon^2 for `num_samples` random paths (gathered over ranks)."""
    gen = torch.Generator(device=opts.device).manual_seed(opts.seed * 65536 + opts.rank)
    rng = np.random.default_rng([opts.seed, opts.rank])
    dists: list[np.ndarray] = []
    done = 0
    with progress_bar(show=opts.progress and opts.rank == 0, total=num_samples, desc="ppl", unit="path") as bar:
        while done < num_samples:
            if draws_labels(G):  # a network trained on clusters: each path stays in one drawn cluster
                c = G.mapping.draw_labels(torch.randn([opts.batch_size, G.z_dim], generator=gen, device=opts.device))[1]
            else:
                c = random_labels(dataset, G.c_dim, opts.batch_size, rng).to(opts.device)
            img = ppl_images(G, c, cfg, gen)
            lpips0, lpips1 = vgg16.module(img, resize_images=False, return_lpips=True).chunk(2)
            dist = gather_rows((lpips0 - lpips1).square().sum(dim=1) / cfg.epsilon ** 2, opts.world_size)
            dists.append(dist.cpu().numpy())
            bar.update(min(dist.shape[0], num_samples - done))
            done += dist.shape[0]
    return np.concatenate(dists)[:num_samples]
