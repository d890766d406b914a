"""Latents for seeds, shared by the scoring scripts."""

from __future__ import annotations

import numpy as np
import torch


def seed_latents(z_dim: int, count: int) -> torch.Tensor:
    """z for seeds 0..count-1, each drawn as NVIDIA's generate.py draws one seed's z."""
    return torch.from_numpy(np.stack([np.random.RandomState(s).randn(z_dim) for s in range(count)])).float()
