"""Resampling with asymmetric and odd-length filters, against SciPy and NVIDIA's own ops. The default filter
[1, 3, 3, 1] is symmetric and of even length, so it hides a filter flipped the wrong way or a pad on the wrong side.

NVIDIA's upfirdn2d (torch_utils/ops/upfirdn2d.py, `_upfirdn2d_ref`) inserts up - 1 zeros after each pixel, pads,
convolves with the filter (correlates with it when `flip_filter`) and keeps every down-th pixel.
fixtures/resample_reference.npz holds the outputs of NVIDIA's downsample2d, upsample2d and conv2d_resample; its
script, fixtures/make_resample_reference.py, says how it was made.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import torch

from stylegan2.nn.conv2d_resample import conv2d_resample
from stylegan2.nn.upfirdn2d import downsample2d, setup_filter, upfirdn2d, upsample2d

REFERENCE = Path(__file__).resolve().parent / "fixtures" / "resample_reference.npz"
FILTERS = {
    "odd": [1, 2, 4],  # 3 taps, made 3x3 by setup_filter
    "asym2d": [[1, 2, 0, 5], [3, -1, 4, 2], [0.5, 1, 7, 1]],  # 3 rows, 4 columns
    "separable": [1, 2, 3, 4, 5, 6, 7, 8],  # 8 taps: applied along x, then y
}


def scipy_upfirdn2d(x: np.ndarray, f: np.ndarray, up: int, down: int, padding: tuple[int, int, int, int],
                    flip_filter: bool) -> np.ndarray:
    """NVIDIA's upfirdn2d semantics, one image plane at a time, with SciPy's full-precision 2-D convolution."""
    px0, px1, py0, py1 = padding
    f2 = f if f.ndim == 2 else np.outer(f, f)
    planes = []
    for plane in x.reshape(-1, *x.shape[-2:]):
        stuffed = np.zeros((plane.shape[0] * up, plane.shape[1] * up))
        stuffed[::up, ::up] = plane
        padded = np.pad(stuffed, [(max(py0, 0), max(py1, 0)), (max(px0, 0), max(px1, 0))])
        padded = padded[max(-py0, 0): padded.shape[0] - max(-py1, 0), max(-px0, 0): padded.shape[1] - max(-px1, 0)]
        filtered = (scipy.signal.correlate2d if flip_filter else scipy.signal.convolve2d)(padded, f2, mode="valid")
        planes.append(filtered[::down, ::down])
    return np.stack(planes).reshape(*x.shape[:-2], *planes[0].shape)


@pytest.mark.parametrize("flip_filter", [False, True])
@pytest.mark.parametrize("taps", FILTERS.values(), ids=FILTERS.keys())
@pytest.mark.parametrize("up, down, padding", [
    (2, 1, (2, 1, 1, 2)),
    (1, 2, (1, 0, 2, 1)),
    (2, 2, (1, 2, 0, 3)),
    (2, 1, (-1, 0, 2, -1)),  # cropping
])
def test_upfirdn2d_with_an_asymmetric_filter_matches_scipy(up, down, padding, taps, flip_filter):
    x = torch.randn(2, 3, 9, 10, dtype=torch.float64)
    f = setup_filter(taps, normalize=False).double()
    got = upfirdn2d(x, f, up=up, down=down, padding=list(padding), flip_filter=flip_filter)
    expected = scipy_upfirdn2d(x.numpy(), f.numpy(), up, down, padding, flip_filter)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("separable", [False, True])
def test_setup_filter_gain_scales_the_two_dimensional_filter(separable):
    """NVIDIA's setup_filter multiplies by gain ** (ndim / 2): a 1-D filter is applied along both axes."""
    f = setup_filter([1, 3, 3, 1], gain=4, separable=separable)
    assert f.ndim == (1 if separable else 2)
    f2 = torch.outer(f, f) if separable else f
    assert f2.sum().item() == pytest.approx(4)


@pytest.fixture(scope="module")
def nvidia() -> dict[str, torch.Tensor]:
    with np.load(REFERENCE, allow_pickle=False) as arrays:
        return {key: torch.from_numpy(value) for key, value in arrays.items()}


@pytest.mark.parametrize("name", ["odd", "asym2d"])
def test_setup_filter_matches_nvidias(nvidia, name):
    assert torch.equal(setup_filter(nvidia[f"taps_{name}"].tolist()), nvidia[f"filter_{name}"])


@pytest.mark.parametrize("resample", [downsample2d, upsample2d])
@pytest.mark.parametrize("name", ["odd", "asym2d"])
def test_resampling_helpers_match_nvidias_padding(nvidia, resample, name):
    got = resample(nvidia["x"], nvidia[f"filter_{name}"], padding=nvidia["padding"].tolist())
    key = f"{resample.__name__.removesuffix('sample2d')}_{name}"
    torch.testing.assert_close(got, nvidia[key], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fold", [False, True])
@pytest.mark.parametrize("kernel", [3, 1])
@pytest.mark.parametrize("direction", ["up", "down"])
@pytest.mark.parametrize("name", ["odd", "asym2d"])
def test_conv2d_resample_matches_nvidias(nvidia, name, direction, kernel, fold):
    """NVIDIA's layers convolve (flip the weight) when up-sampling and correlate when down-sampling."""
    got = conv2d_resample(nvidia["x"], nvidia[f"w{kernel}"], nvidia[f"filter_{name}"], up=2 if direction == "up" else 1,
                          down=2 if direction == "down" else 1, padding=nvidia["padding"].tolist(), fold=fold)
    torch.testing.assert_close(got, nvidia[f"conv_{name}_{direction}_{kernel}"], rtol=1e-12, atol=1e-12)
