"""DiffAugment: cheap differentiable augmentations applied to every image D sees.

Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training" (2020). Unlike ADA
there is no probability: every image gets every transform of the policy, with a random strength.
  color:       brightness + U(-0.5, 0.5); saturation x U(0, 2); contrast x U(0.5, 1.5)
  translation: shift by whole pixels, up to 1/8 of the size, filling with zeros
  cutout:      zero a square of half the size at a random position (may overhang the border)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..utils.errors import OptionError

DEFAULT_POLICY = "color,translation,cutout"  # the paper's policy for StyleGAN2 (--diffaugment-policy)


def parse_policy(policy: str) -> list[str]:
    """The transform names of a comma-separated policy (--diffaugment-policy), each checked against
    `DiffAugment.TRANSFORMS`; at least one (`--aug noaug` trains without augmentation)."""
    names = [name.strip() for name in policy.split(",") if name.strip()] if isinstance(policy, str) else None
    choices = f"choose from {', '.join(DiffAugment.TRANSFORMS)}, comma-separated (e.g. {DEFAULT_POLICY})"
    if not names:
        raise OptionError(f"--diffaugment-policy must name at least one transform, got {policy!r}; {choices}")
    unknown = [name for name in names if name not in DiffAugment.TRANSFORMS]
    if unknown:
        raise OptionError(f"--diffaugment-policy {policy}: unknown transform(s) {', '.join(unknown)}; {choices}")
    return names


class DiffAugment(torch.nn.Module):
    """Applies the comma-separated transforms of `policy`, in that order, to every image."""

    def __init__(self, policy: str = DEFAULT_POLICY, translation_ratio: float = 0.125, cutout_ratio: float = 0.5) -> None:
        super().__init__()
        self.policy = parse_policy(policy)
        self.translation_ratio = float(translation_ratio)
        self.cutout_ratio = float(cutout_ratio)

    def extra_repr(self) -> str:
        return f"policy={','.join(self.policy)!r}"

    def forward(self, images: torch.Tensor, debug_percentile: float | None = None) -> torch.Tensor:
        """Augment a batch [N, C, H, W]; `debug_percentile` in [0, 1] replaces every uniform draw."""
        if not isinstance(images, torch.Tensor) or images.ndim != 4:
            raise ValueError(f"DiffAugment expects images [N, C, H, W], got {getattr(images, 'shape', type(images))}")
        for name in self.policy:
            images = self.TRANSFORMS[name](self, images, debug_percentile)
        return images

    @staticmethod
    def _uniform(images: torch.Tensor, q: float | None) -> torch.Tensor:
        """One U(0, 1) value per image, [N, 1, 1, 1] (or `q` for all)."""
        shape = [images.shape[0], 1, 1, 1]
        if q is not None:
            return torch.full(shape, float(q), dtype=images.dtype, device=images.device)
        return torch.rand(shape, dtype=images.dtype, device=images.device)

    @staticmethod
    def _randint(low: int, high: int, batch: int, device: torch.device, q: float | None) -> torch.Tensor:
        """One integer in [low, high) per image, [N] (or the one at percentile `q`)."""
        if q is not None:
            return torch.full([batch], min(low + int(q * (high - low)), high - 1), dtype=torch.long, device=device)
        return torch.randint(low, high, [batch], device=device)

    def _color(self, images: torch.Tensor, q: float | None) -> torch.Tensor:
        images = images + (self._uniform(images, q) - 0.5)  # brightness
        mean = images.mean(dim=1, keepdim=True)  # per-pixel gray level
        images = (images - mean) * (self._uniform(images, q) * 2) + mean  # saturation
        mean = images.mean(dim=[1, 2, 3], keepdim=True)  # per-image mean
        return (images - mean) * (self._uniform(images, q) + 0.5) + mean  # contrast

    def _translation(self, images: torch.Tensor, q: float | None) -> torch.Tensor:
        batch, _, height, width = images.shape
        device = images.device
        max_dy, max_dx = int(height * self.translation_ratio + 0.5), int(width * self.translation_ratio + 0.5)
        dy = self._randint(-max_dy, max_dy + 1, batch, device, q)
        dx = self._randint(-max_dx, max_dx + 1, batch, device, q)
        # Output pixel (y, x) reads input (y + dy, x + dx); one ring of zeros serves everything outside.
        padded = F.pad(images, [1, 1, 1, 1])  # [N, C, H + 2, W + 2]
        rows = (torch.arange(height, device=device)[None, :] + dy[:, None] + 1).clamp(0, height + 1)  # [N, H]
        cols = (torch.arange(width, device=device)[None, :] + dx[:, None] + 1).clamp(0, width + 1)  # [N, W]
        n = torch.arange(batch, device=device)[:, None, None]
        return padded.permute(0, 2, 3, 1)[n, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # [N, C, H, W]

    def _cutout(self, images: torch.Tensor, q: float | None) -> torch.Tensor:
        batch, _, height, width = images.shape
        device = images.device
        size_y, size_x = int(height * self.cutout_ratio + 0.5), int(width * self.cutout_ratio + 0.5)
        top = self._randint(0, height + (1 - size_y % 2), batch, device, q) - size_y // 2  # [N]
        left = self._randint(0, width + (1 - size_x % 2), batch, device, q) - size_x // 2
        y = torch.arange(height, device=device)[None, :]
        x = torch.arange(width, device=device)[None, :]
        inside_y = (y >= top[:, None]) & (y < top[:, None] + size_y)  # [N, H]
        inside_x = (x >= left[:, None]) & (x < left[:, None] + size_x)  # [N, W]
        keep = ~(inside_y[:, :, None] & inside_x[:, None, :])  # [N, H, W]
        return images * keep[:, None].to(images.dtype)

    TRANSFORMS = {"color": _color, "translation": _translation, "cutout": _cutout}  # a policy's names -> the transforms
