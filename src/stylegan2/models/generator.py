"""The StyleGAN2 generator: mapping network + synthesis network."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .init_kwargs import records_init_kwargs
from .mapping import MappingNetwork
from .synthesis import SynthesisNetwork

LABEL_KINDS = ("classes", "vectors")  # Generator.label_kind's values: one-hot class labels, or label vectors as given


class Generator(nn.Module):
    """G(z, c) = synthesis(mapping(z, c)), with NVIDIA StyleGAN2-ADA's arguments and weight names.

    `init_kwargs` holds the constructor arguments, which is all our checkpoints need to rebuild it.
    A non-square G has `synthesis_kwargs={"img_aspect": "2:1"}` (or "1:2"), so a square G's arguments
    stay NVIDIA's; `img_height` x `img_width` is the image size either way.
    """

    # What a conditional G's labels are, "classes" (one-hot) or "vectors", where the file it was read from records it
    # (`stylegan2 train` snapshots); None where unknown. Set by the loader, not the constructor: older versions read
    # the files, and the tools use it to ask for the right option (--class or --label).
    label_kind: str | None = None

    @records_init_kwargs
    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        mapping_kwargs: dict[str, Any] | None = None,
        synthesis_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        mapping_kwargs = dict(mapping_kwargs or {})
        synthesis_kwargs = dict(synthesis_kwargs or {})
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.synthesis = SynthesisNetwork(w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels, **synthesis_kwargs)
        self.img_aspect = self.synthesis.img_aspect
        self.img_height, self.img_width = self.synthesis.img_height, self.synthesis.img_width
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.num_ws, **mapping_kwargs)

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
        noise_mode: str = "random",
        force_fp32: bool = False,
        fused_modconv: bool | None = None,
    ) -> torch.Tensor:
        """z [N, z_dim], c [N, c_dim] (or None when c_dim is 0) -> images [N, C, H, W]."""
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff, update_emas=update_emas)
        return self.synthesis(ws, noise_mode=noise_mode, force_fp32=force_fp32, fused_modconv=fused_modconv)
