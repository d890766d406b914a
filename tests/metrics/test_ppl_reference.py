"""Perceptual path length against NVIDIA's formula (metrics/perceptual_path_length.py of stylegan2-ada-pytorch).

NVIDIA's PPLSampler draws t ~ U(0, 1) for 'full' paths and t = 0 for 'end' (the draw is made either way), then z0,
z1 ~ N(0, I); it measures the squared LPIPS distance between the images at t and t + epsilon divided by epsilon^2,
and PPL is the mean of those between np.percentile(1, 'lower') and np.percentile(99, 'higher'). A generator linear
in w and a "distance" that is the plain Euclidean one on the [0, 255] image give every value by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from stylegan2.metrics.detectors import NvidiaScriptDetector
from stylegan2.metrics.features import PassOptions
from stylegan2.metrics.ppl import PPLConfig, path_lengths
from stylegan2.metrics.scores import perceptual_path_length

Z_DIM, NUM_WS, BATCH, SEED = 4, 2, 6, 3


class CopyMapping(nn.Module):
    """w = z for every layer, remembering each input."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[torch.Tensor] = []

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        self.inputs.append(z)
        return z[:, None, :].repeat(1, NUM_WS, 1)  # [N, num_ws, w_dim]


class LinearG(nn.Module):
    """A 4x4 RGB generator linear in w: image = w @ A, remembering each ws it synthesizes."""

    z_dim, c_dim, img_resolution = Z_DIM, 0, 4

    def __init__(self) -> None:
        super().__init__()
        self.mapping = CopyMapping()
        self.A = torch.linspace(-1, 1, Z_DIM * 3 * 4 * 4).reshape(Z_DIM, -1).sin()  # [w_dim, 3 * 4 * 4]
        self.ws: list[torch.Tensor] = []

    def synthesis(self, ws: torch.Tensor, noise_mode: str, force_fp32: bool) -> torch.Tensor:
        self.ws.append(ws)
        return (ws[:, 0] @ self.A).reshape(-1, 3, 4, 4)


class Flatten(nn.Module):
    """Stands in for NVIDIA's vgg16.pt with return_lpips=True: the image itself as the embedding."""

    def forward(self, img: torch.Tensor, resize_images: bool = True, return_lpips: bool = False) -> torch.Tensor:
        return img.flatten(1)


def lengths(G: LinearG, space: str, sampling: str, epsilon: float = 1e-4) -> np.ndarray:
    """path_lengths of BATCH paths, one batch, with the Euclidean distance of the [0, 255] images."""
    opts = PassOptions(device=torch.device("cpu"), batch_size=BATCH, progress=False, seed=SEED)
    vgg16 = NvidiaScriptDetector(Flatten(), "flatten", "0" * 64)
    return path_lengths(G, [], vgg16, PPLConfig(space=space, sampling=sampling, epsilon=epsilon), BATCH, opts)


def drawn_t_and_z(sampling: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """NVIDIA's draws, in its order, from the stream path_lengths seeds: t, then z0 and z1."""
    gen = torch.Generator().manual_seed(SEED * 65536)
    t = torch.rand([BATCH], generator=gen) * (1.0 if sampling == "full" else 0.0)
    z0, z1 = torch.randn([2 * BATCH, Z_DIM], generator=gen).chunk(2)
    return t, z0, z1


@pytest.mark.parametrize("sampling", ["end", "full"])
def test_path_length_of_a_linear_generator_is_the_squared_image_step_over_epsilon_squared(sampling):
    """Images at t and t + eps differ by 127.5 * eps * (w1 - w0) @ A: divided by eps^2 the length is
    127.5^2 |(w1 - w0) @ A|^2 whatever eps and t are (eps = 0.01 keeps float32 rounding of the step small)."""
    G = LinearG()
    _, z0, z1 = drawn_t_and_z(sampling)
    expected = (127.5 * (z1 - z0) @ G.A).square().sum(dim=1)
    np.testing.assert_allclose(lengths(G, "w", sampling, epsilon=0.01), expected.numpy(), rtol=1e-4)


@pytest.mark.parametrize("sampling", ["end", "full"])
def test_w_paths_start_at_the_drawn_t(sampling):
    """In W the path's first end is lerp(w0, w1, t): t = 0 for 'end', the uniform draw for 'full'."""
    G = LinearG()
    lengths(G, "w", sampling)
    t, z0, z1 = drawn_t_and_z(sampling)
    first, second = G.ws[0][:, 0].chunk(2)
    torch.testing.assert_close(first, torch.lerp(z0, z1, t[:, None]))
    torch.testing.assert_close(second, torch.lerp(z0, z1, t[:, None] + 1e-4))
    assert (t == 0).all() if sampling == "end" else t.min() < 0.3 and t.max() > 0.7


@pytest.mark.parametrize("sampling", ["end", "full"])
def test_z_paths_start_at_the_drawn_fraction_of_the_great_circle(sampling):
    """In Z the path's first end is the unit vector that fraction t of the way from z0's direction to z1's."""
    G = LinearG()
    lengths(G, "z", sampling)
    t, z0, z1 = drawn_t_and_z(sampling)
    first = G.mapping.inputs[0].chunk(2)[0]
    z0, z1 = z0 / z0.norm(dim=1, keepdim=True), z1 / z1.norm(dim=1, keepdim=True)
    angle = torch.acos((z0 * z1).sum(dim=1))
    torch.testing.assert_close(torch.acos((first * z0).sum(dim=1).clamp(max=1)) / angle, t, atol=2e-3, rtol=0)
    torch.testing.assert_close(torch.acos((first * z1).sum(dim=1).clamp(max=1)) / angle, 1 - t, atol=2e-3, rtol=0)


def test_path_length_keeps_the_samples_at_nvidias_lower_and_higher_percentiles():
    """NVIDIA cuts at np.percentile(d, 1, interpolation='lower') and np.percentile(d, 99, interpolation='higher'),
    which are samples: of 10 samples the smallest and the largest, so all are kept (interpolated percentiles
    would fall strictly inside and drop both)."""
    distances = np.array([7.0, 1.0, 30.0, 2.0, 5.0, 11.0, 3.0, 1000.0, 4.0, 0.5])
    assert perceptual_path_length(distances) == pytest.approx(distances.mean(), rel=1e-12)
