"""AugmentPipe against NVIDIA's: the same seed gives the same augmented images, transform by transform.

The module docstring of `stylegan2.training.augment` promises NVIDIA's random draws, in the same order and shapes,
so each case below must reproduce NVIDIA's output from the same `torch.manual_seed`. The expected outputs in
fixtures/nvidia_augment.npz (one float32 array per case name) were made with NVIDIA's own AugmentPipe
(stylegan2-ada-pytorch commit d72cc7d041b42ec8e806021a205ed9349f87c6a4, training/augment.py, run on the CPU
with torch 2.13.0, where its ops use their reference implementations): with `torch_utils.ops.grid_sample_gradfix`
and `conv2d_gradfix` set to `enabled = False`, for each `name, (kwargs, shape, p, q)` of `CASES`:
`pipe = AugmentPipe(**kwargs); pipe.p.fill_(p); torch.manual_seed(SEED); out = pipe(reference_images(shape), q)`,
saved with `np.savez_compressed` under `name`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan2.training import augment
from stylegan2.training.augment import AUGPIPE_PRESETS, AugmentPipe

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "nvidia_augment.npz"
SEED = 1
GEOM_SHAPE = (3, 1, 12, 16)  # non-square (H != W): a shift or scale taken along the wrong side shows
COLOR_SHAPE = (3, 3, 4, 4)
FILTER_SHAPE = (2, 1, 22, 24)  # the filter bank's 21-pixel reflect padding needs more than 21 pixels a side

# name -> (AugmentPipe arguments, image shape [N, C, H, W], p, debug_percentile)
CASES: dict[str, tuple[dict[str, float], tuple[int, int, int, int], float, float | None]] = {
    **{name: ({name: 1}, GEOM_SHAPE, 1.0, None)
       for name in ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")},
    **{name: ({name: 1}, COLOR_SHAPE, 1.0, None) for name in ("brightness", "contrast", "lumaflip", "hue", "saturation")},
    "imgfilter": ({"imgfilter": 1}, FILTER_SHAPE, 1.0, None),
    "noise": ({"noise": 1}, (2, 3, 6, 6), 1.0, None),
    "cutout": ({"cutout": 1}, (3, 1, 8, 12), 1.0, None),
    "geom": (AUGPIPE_PRESETS["geom"], GEOM_SHAPE, 1.0, None),  # the order of the geometric matrices
    "color": (AUGPIPE_PRESETS["color"], COLOR_SHAPE, 1.0, None),  # the order of the color matrices
    "bgcfnc": (AUGPIPE_PRESETS["bgcfnc"], (3, 3, 22, 22), 0.6, None),  # each transform gated by its own draw
    "bgcfnc_percentile": (AUGPIPE_PRESETS["bgcfnc"], (1, 3, 22, 24), 1.0, 0.3),
}
# Ours lands within 1e-6 of NVIDIA's (float32 rounding of the warp); NVIDIA also warps the images that drew the
# identity, which ours passes through untouched.
TOL = 1e-5


def reference_images(shape: tuple[int, int, int, int]) -> torch.Tensor:
    """Smooth images with structure in every direction and a different pattern per image and channel (no RNG)."""
    n, c, h, w = shape
    k = torch.arange(n * c, dtype=torch.float32).reshape(n, c, 1, 1)
    y = torch.arange(h, dtype=torch.float32).reshape(1, 1, h, 1)
    x = torch.arange(w, dtype=torch.float32).reshape(1, 1, 1, w)
    return torch.sin(0.55 * x + 0.3 * (k + 1) * y + k) * torch.cos(0.4 * y - 0.15 * x * (k % 3)) + 0.1 * k


@pytest.fixture(scope="module")
def nvidia_outputs() -> dict[str, np.ndarray]:
    """NVIDIA's output for each case name."""
    with np.load(FIXTURE) as data:
        return {name: data[name] for name in data.files}


def test_the_fixture_has_every_case_and_each_changes_its_images(nvidia_outputs):
    """A case whose expected output is its input would pin nothing."""
    assert sorted(nvidia_outputs) == sorted(CASES)
    for name, (_, shape, _, _) in CASES.items():
        change = (torch.from_numpy(nvidia_outputs[name]) - reference_images(shape)).abs().amax()
        assert change > 0.1, name


@pytest.mark.parametrize("name", list(CASES))
def test_same_seed_gives_nvidias_augmented_images(name, nvidia_outputs):
    """Case `name` of CASES, at seed SEED, gives the images NVIDIA's AugmentPipe gave."""
    kwargs, shape, p, percentile = CASES[name]
    pipe = AugmentPipe(**kwargs)
    pipe.p.fill_(p)
    torch.manual_seed(SEED)
    out = pipe(reference_images(shape), debug_percentile=percentile)
    torch.testing.assert_close(out, torch.from_numpy(nvidia_outputs[name]), atol=TOL, rtol=0)


def test_anisotropic_scaling_keeps_the_area(monkeypatch):
    """NVIDIA's aniso stretches x by s and squeezes y by 1/s (scale2d_inv(s, 1/s)): determinant 1, sides unequal."""
    pipe = AugmentPipe(aniso=1)
    G_inv = _geometry_matrix(pipe, GEOM_SHAPE, monkeypatch)
    assert torch.allclose(torch.linalg.det(G_inv), torch.ones(GEOM_SHAPE[0]), atol=1e-6)
    assert (G_inv[:, 0, 0] - G_inv[:, 1, 1]).abs().min() > 1e-3


def test_fractional_translation_scales_each_axis_by_its_own_side(monkeypatch):
    """NVIDIA's xfrac shifts by (t_x * width, t_y * height) for draws t ~ N(0, xfrac_std)."""
    batch, _, height, width = GEOM_SHAPE
    torch.manual_seed(SEED)
    t = torch.randn(batch, 2) * 0.125
    G_inv = _geometry_matrix(AugmentPipe(xfrac=1), GEOM_SHAPE, monkeypatch)
    torch.testing.assert_close(G_inv[:, :2, 2], -t * torch.tensor([width, height]))


def test_contrast_scales_the_brightness_shifted_color():
    """NVIDIA builds C = scale(c) @ translate(b): brightness first, then contrast multiplies the shifted values."""
    x = reference_images(COLOR_SHAPE)
    pipe = AugmentPipe(brightness=1, contrast=1)
    torch.manual_seed(SEED)
    out = pipe(x)
    torch.manual_seed(SEED)  # draws: brightness value, its gate, contrast value, its gate
    b = torch.randn(3) * 0.2
    torch.rand(3)
    c = torch.exp2(torch.randn(3) * 0.5)
    torch.testing.assert_close(out, (x + b[:, None, None, None]) * c[:, None, None, None], atol=1e-5, rtol=1e-5)


def test_band_gains_keep_the_expected_power_of_a_one_over_f_spectrum():
    """NVIDIA's expected band powers are [10, 1, 1, 1] / 13 and the gain vector [g, 1, 1, 1] is divided by
    sqrt(sum(power * gain^2)). Only the lowest band passes a constant image, once along each axis, so the image
    comes out scaled by (g / sqrt(10/13 g^2 + 3/13))^2, with g = 2^erfinv(2q - 1) at debug percentile q."""
    pipe = AugmentPipe(imgfilter=1, imgfilter_bands=[1, 0, 0, 0])
    q = 0.9
    g = 2 ** float(torch.erfinv(torch.tensor(2 * q - 1)))
    out = pipe(torch.full((1, 1, 22, 22), 0.5), debug_percentile=q)
    torch.testing.assert_close(out, torch.full_like(out, 0.5 * g * g / (10 / 13 * g * g + 3 / 13)))


def _geometry_matrix(pipe: AugmentPipe, shape: tuple[int, int, int, int], monkeypatch: pytest.MonkeyPatch) -> torch.Tensor:
    """The per-image inverse matrix [N, 3, 3] the pipe warps with, at seed SEED."""
    seen = []
    monkeypatch.setattr(augment, "warp_images", lambda images, G_inv, lowpass: seen.append(G_inv) or images)
    torch.manual_seed(SEED)
    pipe(reference_images(shape))
    (G_inv,) = seen
    return G_inv
