"""Adaptive discriminator augmentation: the augmentation pipeline of StyleGAN2-ADA.

Karras et al., "Training Generative Adversarial Networks with Limited Data" (2020). D sees only
augmented images, real and generated alike. Each transform is applied to each image independently
with probability `p * multiplier`; as long as p stays below about 0.8 the augmentations do not
"leak" into the generated images, because G can still tell which distribution is the clean one.

The transforms run in the paper's order and are merged where possible so that an image is
resampled only once:
  1. pixel blitting (x-flip, 90-degree rotation, integer translation) and general geometry
     (isotropic scaling, rotation, anisotropic scaling, fractional translation): one 3x3 matrix,
     applied once with an anti-aliased warp (reflect-pad, 2x up, bilinear, 2x down);
  2. color (brightness, contrast, luma flip, hue rotation, saturation): one 4x4 matrix;
  3. image-space filtering: random gains for four frequency bands;
  4. corruptions: additive Gaussian noise, cutout.

Random numbers are drawn in the same order and shapes as NVIDIA's implementation, so with the same
seed both produce the same augmentations. Constructor names and defaults are theirs too: the
`init_kwargs` and `p` stored with an official pickle's `augment_pipe` rebuild it here.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Sequence

import torch

from ..models.init_kwargs import records_init_kwargs
from ..nn.upfirdn2d import setup_filter
from .augment_ops import (
    SYM2,
    SYM6,
    apply_color,
    constant,
    filter_bank,
    filter_separable,
    rotate2d,
    rotate3d,
    scale2d,
    scale3d,
    translate2d,
    translate3d,
    warp_images,
)

# Expected power of natural images in the four filter bands (a 1/f spectrum), low to high.
BAND_POWER = (10 / 13, 1 / 13, 1 / 13, 1 / 13)

_BLIT = dict(xflip=1, rotate90=1, xint=1)
_GEOM = dict(scale=1, rotate=1, aniso=1, xfrac=1)
_COLOR = dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)

# Names of the probability multipliers (the other constructor arguments set strengths).
MULTIPLIERS = (
    "xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac", "brightness", "contrast",
    "lumaflip", "hue", "saturation", "imgfilter", "noise", "cutout",
)

# The `--augpipe` presets of StyleGAN2-ADA: which transforms are on (probability multiplier 1).
AUGPIPE_PRESETS: dict[str, dict[str, float]] = {
    "blit": dict(_BLIT),
    "geom": dict(_GEOM),
    "color": dict(_COLOR),
    "filter": dict(imgfilter=1),
    "noise": dict(noise=1),
    "cutout": dict(cutout=1),
    "bg": {**_BLIT, **_GEOM},
    "bgc": {**_BLIT, **_GEOM, **_COLOR},
    "bgcf": {**_BLIT, **_GEOM, **_COLOR, "imgfilter": 1},
    "bgcfn": {**_BLIT, **_GEOM, **_COLOR, "imgfilter": 1, "noise": 1},
    "bgcfnc": {**_BLIT, **_GEOM, **_COLOR, "imgfilter": 1, "noise": 1, "cutout": 1},
}


def _normal_percentile(q: torch.Tensor) -> torch.Tensor:
    """The value that debug_percentile `q` selects from a standard-deviation-scaled normal draw."""
    return torch.erfinv(q * 2 - 1)


class AugmentPipe(torch.nn.Module):
    """The ADA augmentation pipeline: every transform off by default, multiplier 1 turns it on.

    `p` (a buffer) is the overall probability; transform k is applied to an image with
    probability `p * k`. The training loop sets `p` (fixed, or tuned by the ADA controller).
    `init_kwargs` records the constructor arguments (an official pickle stores them as `_init_kwargs`).
    """

    @records_init_kwargs
    def __init__(
        self,
        xflip: float = 0, rotate90: float = 0, xint: float = 0, xint_max: float = 0.125,
        scale: float = 0, rotate: float = 0, aniso: float = 0, xfrac: float = 0,
        scale_std: float = 0.2, rotate_max: float = 1, aniso_std: float = 0.2, xfrac_std: float = 0.125,
        brightness: float = 0, contrast: float = 0, lumaflip: float = 0, hue: float = 0, saturation: float = 0,
        brightness_std: float = 0.2, contrast_std: float = 0.5, hue_max: float = 1, saturation_std: float = 1,
        imgfilter: float = 0, imgfilter_bands: Sequence[float] = (1, 1, 1, 1), imgfilter_std: float = 1,
        noise: float = 0, cutout: float = 0, noise_std: float = 0.1, cutout_size: float = 0.5,
    ) -> None:
        super().__init__()
        self.register_buffer("p", torch.ones([]))
        # Pixel blitting: probability multipliers; integer translation range (fraction of the size).
        self.xflip, self.rotate90, self.xint, self.xint_max = float(xflip), float(rotate90), float(xint), float(xint_max)
        # General geometry: multipliers; log2 std of scalings, rotation range (1 = full circle),
        # fractional translation std (fraction of the size).
        self.scale, self.rotate, self.aniso, self.xfrac = float(scale), float(rotate), float(aniso), float(xfrac)
        self.scale_std, self.rotate_max = float(scale_std), float(rotate_max)
        self.aniso_std, self.xfrac_std = float(aniso_std), float(xfrac_std)
        # Color: multipliers; brightness std, log2 std of contrast and saturation, hue range (1 = full circle).
        self.brightness, self.contrast, self.lumaflip = float(brightness), float(contrast), float(lumaflip)
        self.hue, self.saturation = float(hue), float(saturation)
        self.brightness_std, self.contrast_std = float(brightness_std), float(contrast_std)
        self.hue_max, self.saturation_std = float(hue_max), float(saturation_std)
        # Image-space filtering: multiplier, per-band multipliers, log2 std of the band gains.
        self.imgfilter, self.imgfilter_std = float(imgfilter), float(imgfilter_std)
        self.imgfilter_bands = [float(b) for b in imgfilter_bands]
        # Corruptions: multipliers; noise std, cutout square size (fraction of the size).
        self.noise, self.cutout, self.noise_std, self.cutout_size = float(noise), float(cutout), float(noise_std), float(cutout_size)

        self.register_buffer("Hz_geom", setup_filter(SYM6))  # [12], normalized to sum 1
        self.register_buffer("Hz_fbank", torch.as_tensor(filter_bank(SYM2), dtype=torch.float32))  # [4, 43]
        if len(self.imgfilter_bands) != self.Hz_fbank.shape[0]:
            raise ValueError(f"imgfilter_bands must have {self.Hz_fbank.shape[0]} entries (one per band), got {len(self.imgfilter_bands)}")

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> AugmentPipe:
        """Rebuild from stored settings `{init_kwargs, p}` (ours, or an official pickle's augment_pipe)."""
        kwargs = dict(settings.get("init_kwargs") or {})
        kwargs.pop("class_name", None)
        unknown = sorted(set(kwargs) - set(inspect.signature(cls).parameters))
        if unknown:
            raise ValueError(f"augment_pipe settings: unknown AugmentPipe argument(s) {', '.join(unknown)}")
        pipe = cls(**kwargs)
        if settings.get("p") is not None:
            pipe.p.fill_(float(settings["p"]))
        return pipe

    def extra_repr(self) -> str:
        on = ", ".join(f"{name}={self.init_kwargs[name]:g}" for name in MULTIPLIERS if self.init_kwargs[name] > 0)
        return f"p={float(self.p):.4f}" + (f", {on}" if on else "")

    def _gate(self, value: torch.Tensor, identity: float, probability: torch.Tensor) -> torch.Tensor:
        """Keep each image's drawn `value` with `probability`, else use the identity value."""
        draw = torch.rand([value.shape[0]] + [1] * (value.ndim - 1), device=value.device)
        return torch.where(draw < probability, value, torch.full_like(value, identity))

    def forward(self, images: torch.Tensor, debug_percentile: float | None = None) -> torch.Tensor:
        """Augment a batch [N, C, H, W]; `debug_percentile` in (0, 1) forces every drawn value to
        that percentile of its distribution (for visualizing the transforms)."""
        if not isinstance(images, torch.Tensor) or images.ndim != 4:
            raise ValueError(f"AugmentPipe expects images [N, C, H, W], got {getattr(images, 'shape', type(images))}")
        if debug_percentile is None and reads_are_free(images.device) and float(self.p) == 0:
            return images
        if debug_percentile is not None and not 0 < debug_percentile < 1:
            raise ValueError(f"debug_percentile must lie strictly between 0 and 1, got {debug_percentile}")
        q = None if debug_percentile is None else torch.as_tensor(debug_percentile, dtype=torch.float32, device=images.device)
        images = self._geometry(images, q)
        images = self._color(images, q)
        if self.imgfilter > 0:
            images = self._filter(images, q)
        if self.noise > 0:
            images = self._noise(images, q)
        if self.cutout > 0:
            images = self._cutout(images, q)
        return images

    def _geometry(self, images: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
        """Blitting and general geometry as one inverse matrix (output pixel -> input pixel), one warp."""
        batch, _, height, width = images.shape
        device = images.device
        G_inv = torch.eye(3, device=device).expand(batch, 3, 3)
        enabled = False

        if self.xflip > 0:  # mirror x with probability 1/2
            i = self._gate(torch.floor(torch.rand([batch], device=device) * 2), 0, self.xflip * self.p)
            if q is not None:
                i = torch.full_like(i, torch.floor(q * 2))
            G_inv, enabled = G_inv @ scale2d(1 - 2 * i, torch.ones_like(i)), True

        if self.rotate90 > 0:  # rotate by a uniform multiple of 90 degrees
            i = self._gate(torch.floor(torch.rand([batch], device=device) * 4), 0, self.rotate90 * self.p)
            if q is not None:
                i = torch.full_like(i, torch.floor(q * 4))
            G_inv, enabled = G_inv @ rotate2d(math.pi / 2 * i), True

        if self.xint > 0:  # shift by whole pixels, up to xint_max of the size in each direction
            t = self._gate((torch.rand([batch, 2], device=device) * 2 - 1) * self.xint_max, 0, self.xint * self.p)
            if q is not None:
                t = torch.full_like(t, (q * 2 - 1) * self.xint_max)
            G_inv, enabled = G_inv @ translate2d(-torch.round(t[:, 0] * width), -torch.round(t[:, 1] * height)), True

        if self.scale > 0:  # isotropic scaling, log-normal
            s = self._gate(torch.exp2(torch.randn([batch], device=device) * self.scale_std), 1, self.scale * self.p)
            if q is not None:
                s = torch.full_like(s, torch.exp2(_normal_percentile(q) * self.scale_std))
            G_inv, enabled = G_inv @ scale2d(1 / s, 1 / s), True

        # Rotation happens before and after the anisotropic scaling, each with probability p_rot,
        # so that P(at least one rotation) = rotate * p.
        p_rot = 1 - torch.sqrt((1 - self.rotate * self.p).clamp(0, 1))
        if self.rotate > 0:
            theta = self._gate((torch.rand([batch], device=device) * 2 - 1) * math.pi * self.rotate_max, 0, p_rot)
            if q is not None:
                theta = torch.full_like(theta, (q * 2 - 1) * math.pi * self.rotate_max)
            G_inv, enabled = G_inv @ rotate2d(theta), True

        if self.aniso > 0:  # stretch x, squeeze y by the same log-normal factor
            s = self._gate(torch.exp2(torch.randn([batch], device=device) * self.aniso_std), 1, self.aniso * self.p)
            if q is not None:
                s = torch.full_like(s, torch.exp2(_normal_percentile(q) * self.aniso_std))
            G_inv, enabled = G_inv @ scale2d(1 / s, 1 / (1 / s)), True  # 1 / (1 / s): NVIDIA's rounding

        if self.rotate > 0:
            theta = self._gate((torch.rand([batch], device=device) * 2 - 1) * math.pi * self.rotate_max, 0, p_rot)
            if q is not None:
                theta = torch.zeros_like(theta)
            G_inv = G_inv @ rotate2d(theta)

        if self.xfrac > 0:  # sub-pixel shift, normal with xfrac_std of the size
            t = self._gate(torch.randn([batch, 2], device=device) * self.xfrac_std, 0, self.xfrac * self.p)
            if q is not None:
                t = torch.full_like(t, _normal_percentile(q) * self.xfrac_std)
            G_inv, enabled = G_inv @ translate2d(-t[:, 0] * width, -t[:, 1] * height), True

        if not enabled:
            return images
        changed = (G_inv != torch.eye(3, device=device)).flatten(1).any(dim=1)
        return _transform_where(images, changed, lambda index: warp_images(images[index], G_inv[index], self.Hz_geom))

    def _color(self, images: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
        """Brightness, contrast, luma flip, hue and saturation as one 4x4 matrix on homogeneous RGB."""
        batch, channels = images.shape[:2]
        device = images.device
        eye = torch.eye(4, device=device)
        C = eye.expand(batch, 4, 4)
        enabled = False

        if self.brightness > 0:  # add a normal offset to all channels
            b = self._gate(torch.randn([batch], device=device) * self.brightness_std, 0, self.brightness * self.p)
            if q is not None:
                b = torch.full_like(b, _normal_percentile(q) * self.brightness_std)
            C, enabled = translate3d(b) @ C, True

        if self.contrast > 0:  # multiply all channels by a log-normal factor
            c = self._gate(torch.exp2(torch.randn([batch], device=device) * self.contrast_std), 1, self.contrast * self.p)
            if q is not None:
                c = torch.full_like(c, torch.exp2(_normal_percentile(q) * self.contrast_std))
            C, enabled = scale3d(c) @ C, True

        luma = constant([[1, 1, 1, 0]], device)[0] / math.sqrt(3)  # the gray axis
        luma_outer = torch.outer(luma, luma)
        if self.lumaflip > 0:  # reflect colors through the plane orthogonal to gray (Householder)
            i = self._gate(torch.floor(torch.rand([batch, 1, 1], device=device) * 2), 0, self.lumaflip * self.p)
            if q is not None:
                i = torch.full_like(i, torch.floor(q * 2))
            C, enabled = (eye - 2 * luma_outer * i) @ C, True

        if self.hue > 0 and channels > 1:  # rotate colors around the gray axis
            theta = self._gate((torch.rand([batch], device=device) * 2 - 1) * math.pi * self.hue_max, 0, self.hue * self.p)
            if q is not None:
                theta = torch.full_like(theta, (q * 2 - 1) * math.pi * self.hue_max)
            C, enabled = rotate3d(luma, theta) @ C, True

        if self.saturation > 0 and channels > 1:  # scale the distance from the gray axis, log-normal
            s = self._gate(torch.exp2(torch.randn([batch, 1, 1], device=device) * self.saturation_std), 1, self.saturation * self.p)
            if q is not None:
                s = torch.full_like(s, torch.exp2(_normal_percentile(q) * self.saturation_std))
            C, enabled = (luma_outer + (eye - luma_outer) * s) @ C, True

        if not enabled:
            return images
        if channels not in (1, 3):
            raise ValueError(f"color augmentation needs RGB (3 channels) or grayscale (1 channel) images, got {channels} channels")
        changed = (C != eye).flatten(1).any(dim=1)
        return _transform_where(images, changed, lambda index: apply_color(images[index], C[index].to(images.dtype)))

    def _filter(self, images: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
        """Amplify or attenuate each frequency band by a log-normal gain, keeping the expected power."""
        batch, channels, height, width = images.shape
        device = images.device
        num_bands = self.Hz_fbank.shape[0]
        power = constant([BAND_POWER], device)[0]
        gains = torch.ones([batch, num_bands], device=device)
        for band, band_strength in enumerate(self.imgfilter_bands):
            g = self._gate(torch.exp2(torch.randn([batch], device=device) * self.imgfilter_std), 1, self.imgfilter * band_strength * self.p)
            if q is not None:
                g = torch.full_like(g, torch.exp2(_normal_percentile(q) * self.imgfilter_std)) if band_strength > 0 else torch.ones_like(g)
            t = torch.ones([batch, num_bands], device=device)
            t[:, band] = g
            t = t / (power * t.square()).sum(dim=-1, keepdim=True).sqrt()  # keep the expected power
            gains = gains * t

        pad = self.Hz_fbank.shape[1] // 2
        if pad >= min(height, width):
            raise ValueError(f"image filtering needs images larger than {pad} pixels, got {height}x{width}")
        taps = (gains @ self.Hz_fbank).to(images.dtype)  # [N, taps], symmetric
        changed = (gains != 1).any(dim=1)
        return _transform_where(images, changed, lambda index: filter_separable(images[index], taps[index], pad))

    def _noise(self, images: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
        """Add i.i.d. Gaussian noise whose std is itself half-normal with scale noise_std."""
        batch = images.shape[0]
        sigma = self._gate(torch.randn([batch, 1, 1, 1], device=images.device).abs() * self.noise_std, 0, self.noise * self.p)
        if q is not None:
            sigma = torch.full_like(sigma, torch.erfinv(q) * self.noise_std)
        noise = torch.randn_like(images)  # drawn for every image, so the random stream does not depend on p
        return _transform_where(images, sigma.flatten() != 0, lambda index: images[index] + noise[index] * sigma[index].to(images.dtype))

    def _cutout(self, images: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
        """Zero a cutout_size square (fraction of the size) at a uniform random center."""
        batch, _, height, width = images.shape
        device = images.device
        size = self._gate(torch.full([batch, 2, 1, 1, 1], self.cutout_size, device=device), 0, self.cutout * self.p)
        center = torch.rand([batch, 2, 1, 1, 1], device=device)
        if q is not None:
            size = torch.full_like(size, self.cutout_size)
            center = torch.full_like(center, q)
        x = (torch.arange(width, device=device).reshape(1, 1, 1, -1) + 0.5) / width
        y = (torch.arange(height, device=device).reshape(1, 1, -1, 1) + 0.5) / height
        outside = ((x - center[:, 0]).abs() >= size[:, 0] / 2) | ((y - center[:, 1]).abs() >= size[:, 1] / 2)  # [N, 1, H, W]
        changed = size.flatten(1).any(dim=1)
        return _transform_where(images, changed, lambda index: images[index] * outside[index].to(images.dtype))


def reads_are_free(device: torch.device) -> bool:
    """Whether reading a value back from `device` costs no more than computing it: on the CPU; on a GPU the read
    makes the CPU wait until the GPU has caught up, and the GPU then idles while the CPU queues the next work."""
    return device.type == "cpu"


def _transform_where(images: torch.Tensor, changed: torch.Tensor,
                     transform: Callable[[torch.Tensor | slice], torch.Tensor]) -> torch.Tensor:
    """Replace the images where `changed` [N] is true by `transform(index)` (their transformed copies).

    Images that drew the identity pass through exactly as they are. On the CPU they also cost nothing: while ADA's
    p is small almost every image does, so the pipe then costs almost nothing (docs: Augmentation). On a GPU,
    where finding them would make the CPU wait for it, the whole batch is transformed (as NVIDIA's pipe does) and
    the unchanged images are kept by a mask.
    """
    if not reads_are_free(images.device):
        kept = ~changed.reshape(-1, *[1] * (images.ndim - 1))
        return torch.where(kept, images, transform(slice(None))).contiguous(memory_format=_memory_format(images))
    index = changed.nonzero().flatten()
    if index.numel() == 0:
        return images
    if index.numel() == images.shape[0]:
        return transform(index).contiguous(memory_format=_memory_format(images))
    # clone() keeps a channels_last batch channels_last (out-of-place index_copy would not), as D expects it.
    return images.clone().index_copy_(0, index, transform(index))


def _memory_format(images: torch.Tensor) -> torch.memory_format:
    """channels_last for a channels_last batch of several channels, else the default layout."""
    channels_last = images.is_contiguous(memory_format=torch.channels_last) and not images.is_contiguous()
    return torch.channels_last if channels_last else torch.contiguous_format


def augment_pipe_from_preset(name: str, p: float = 0.0) -> AugmentPipe:
    """The `--augpipe` preset `name` (e.g. 'bgc') with overall probability `p`."""
    if name not in AUGPIPE_PRESETS:
        raise ValueError(f"--augpipe must be one of {', '.join(AUGPIPE_PRESETS)}; got {name!r}")
    pipe = AugmentPipe(**AUGPIPE_PRESETS[name])
    pipe.p.fill_(float(p))
    return pipe
