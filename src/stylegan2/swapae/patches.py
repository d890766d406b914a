"""Random square crops, resized to one patch size: the inputs of the patch co-occurrence discriminator."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sample_patches(
    img: torch.Tensor,
    num_patches: int,
    patch_size: int,
    min_scale: float = 1 / 8,
    max_scale: float = 1 / 4,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """img [N, C, H, W] -> patches [N, num_patches, C, patch_size, patch_size], differentiable w.r.t. img.

    Each crop is a square whose side is a uniform fraction in [min_scale, max_scale] of the shorter
    image side, placed uniformly where it fits inside the image, and resampled bilinearly to
    patch_size (pixel centres map to pixel centres, so a full-image crop at the image's size is the
    image itself). `generator` makes the crops reproducible.
    """
    if img.ndim != 4:
        raise ValueError(f"sample_patches expects images [batch, channels, height, width], got shape {list(img.shape)}")
    if num_patches < 1 or patch_size < 1:
        raise ValueError(f"sample_patches: num_patches and patch_size must be >= 1, got {num_patches} and {patch_size}")
    if not 0 < min_scale <= max_scale <= 1:
        raise ValueError(f"sample_patches: patch scales must satisfy 0 < min_scale <= max_scale <= 1, got {min_scale} and {max_scale}")
    n, c, h, w = img.shape
    draw_device = generator.device if generator is not None else img.device
    u = torch.rand(n * num_patches, 3, generator=generator, device=draw_device).to(device=img.device, dtype=torch.float32)
    side = (min_scale + (max_scale - min_scale) * u[:, 0]) * min(h, w)  # crop side in pixels
    left = u[:, 1] * (w - side)
    top = u[:, 2] * (h - side)

    # affine_grid maps output coords in [-1, 1] to input coords in [-1, 1] (align_corners=False:
    # -1 and 1 are the outer edges of the border pixels), so the crop is a scale and a shift.
    theta = torch.zeros(n * num_patches, 2, 3, device=img.device)
    theta[:, 0, 0] = side / w
    theta[:, 0, 2] = 2 * (left + side / 2) / w - 1
    theta[:, 1, 1] = side / h
    theta[:, 1, 2] = 2 * (top + side / 2) / h - 1
    grid = F.affine_grid(theta, [n * num_patches, c, patch_size, patch_size], align_corners=False)
    source = img.unsqueeze(1).expand(n, num_patches, c, h, w).reshape(n * num_patches, c, h, w)
    patches = F.grid_sample(source, grid.to(img.dtype), mode="bilinear", padding_mode="border", align_corners=False)
    return patches.reshape(n, num_patches, c, patch_size, patch_size)
