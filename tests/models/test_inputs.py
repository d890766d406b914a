"""Wrong inputs to G, G.mapping, G.synthesis and D fail at the call, naming the argument, not deep inside torch."""

import numpy as np
import pytest
import torch

from stylegan2.models import Discriminator, Generator


def generator(c_dim: int = 0) -> Generator:
    return Generator(z_dim=8, c_dim=c_dim, w_dim=8, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 2},
                     synthesis_kwargs={"channel_base": 64, "channel_max": 8}).eval()


def discriminator(c_dim: int = 0) -> Discriminator:
    return Discriminator(c_dim=c_dim, img_resolution=16, img_channels=3, channel_base=64, channel_max=8).eval()


Z = torch.randn(2, 8)
LABELS = torch.eye(4)


@pytest.mark.parametrize("call, error, message", [
    (lambda G, Gc: G(np.zeros((2, 8)), None), TypeError, r"^z must be a torch.Tensor, got ndarray; torch.from_numpy\(...\) makes one$"),
    (lambda G, Gc: G([[0.0] * 8] * 2, None), TypeError, r"^z must be a torch.Tensor, got list$"),
    (lambda G, Gc: G(torch.randn(0, 8), None), ValueError, r"^z is an empty batch \(shape \[0, 8\]\); pass at least one$"),
    (lambda G, Gc: G(Z, 0.7), ValueError, r"unconditional \(c_dim 0\): pass c=None, got float \(truncation_psi is a keyword"),
    (lambda G, Gc: G(Z, LABELS[:2]), ValueError, r"^this network is unconditional \(c_dim 0\): pass c=None, got Tensor$"),
    (lambda G, Gc: Gc(Z, LABELS[:3]), ValueError, r"^c \(class label\) has batch 3 but z has 2; give one row per sample$"),
    (lambda G, Gc: Gc(Z, np.eye(4)[:2]), TypeError, r"^c \(class label\) must be a torch.Tensor, got ndarray"),
    (lambda G, Gc: Gc(Z, None), ValueError, r"conditional: c \(class label\) must have shape \[batch, 4\], got None"),
    (lambda G, Gc: G(Z, None, truncation_psi="0.7"), TypeError,
     r"^truncation_psi must be a finite number \(1 = no truncation\), got '0.7'$"),
    (lambda G, Gc: G(Z, None, truncation_psi=float("nan")), ValueError, r"^truncation_psi must be a finite number .* got nan$"),
    (lambda G, Gc: G(Z, None, truncation_psi=float("-inf")), ValueError, r"^truncation_psi must be a finite number .* got -inf$"),
    (lambda G, Gc: G(Z, None, truncation_psi=0.5, truncation_cutoff=-1), ValueError, r"truncation_cutoff must be None .* got -1$"),
    (lambda G, Gc: G(Z, None, truncation_psi=0.5, truncation_cutoff=2.5), ValueError, r"truncation_cutoff .* got 2.5$"),
    (lambda G, Gc: G.synthesis(np.zeros((2, G.num_ws, 8))), TypeError, r"^ws must be a torch.Tensor, got ndarray"),
    (lambda G, Gc: G.synthesis(torch.randn(0, G.num_ws, 8)), ValueError, r"^ws is an empty batch"),
])
def test_generator_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call(generator(), generator(c_dim=4))


def test_what_nvidia_passes_still_works():
    """An unconditional G takes c=None or NVIDIA's empty [N, 0] label; psi may be an int or a one-element tensor."""
    G = generator()
    a = G(Z, None, truncation_psi=0.5, noise_mode="const")
    b = G(Z, torch.zeros(2, 0), truncation_psi=torch.tensor(0.5), noise_mode="const")
    c = G(Z, None, truncation_psi=1, truncation_cutoff=100, noise_mode="const")  # a cutoff past num_ws truncates all
    assert torch.equal(a, b) and c.shape == a.shape


def test_inputs_on_another_device_than_the_network_are_named():
    G = generator().to("meta")  # stands in for a CUDA network given CPU inputs
    with pytest.raises(ValueError, match=r"^z is on cpu but the network is on meta; move it with z.to\('meta'\)$"):
        G(Z, None)


@pytest.mark.parametrize("call, error, message", [
    (lambda D, Dc, img: D(((img + 1) * 127.5).to(torch.uint8), None), TypeError,
     r"^D expects float images in \[-1, 1\], got torch.uint8; convert with img.float\(\) / 127.5 - 1$"),
    (lambda D, Dc, img: D(img.numpy(), None), TypeError, r"^img must be a torch.Tensor, got ndarray"),
    (lambda D, Dc, img: D(img[:0], None), ValueError, r"^img is an empty batch"),
    (lambda D, Dc, img: Dc(img, LABELS[:1]), ValueError, r"^c \(class label\) has batch 1 but img has 2"),
])
def test_discriminator_inputs(call, error, message):
    img = torch.rand(2, 3, 16, 16) * 2 - 1
    with pytest.raises(error, match=message):
        call(discriminator(), discriminator(c_dim=4), img)


GENERATOR_ARGS = dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 2},
                      synthesis_kwargs={"channel_base": 64, "channel_max": 8})


@pytest.mark.parametrize("change, message", [
    ({"z_dim": 0}, r"^the mapping network needs an input: z_dim or c_dim \(or both\) must be >= 1, got 0 and 0$"),
    ({"z_dim": -1}, r"^z_dim must be an integer >= 0, got -1$"),
    ({"z_dim": True}, r"^z_dim must be an integer >= 0, got True$"),
    ({"c_dim": -1}, r"^c_dim must be an integer >= 0, got -1$"),
    ({"w_dim": 0}, r"^w_dim must be an integer >= 1, got 0$"),
    ({"img_channels": 0}, r"^img_channels must be an integer >= 1, got 0$"),
    ({"img_resolution": 16.0}, r"^img_resolution must be a power of two from 4 to 1024, got 16.0$"),
    ({"img_resolution": "16"}, r"^img_resolution must be a power of two from 4 to 1024, got '16'$"),
    ({"mapping_kwargs": {"num_layers": 0}}, r"^num_layers must be an integer >= 1, got 0$"),
])
def test_generator_arguments_are_checked_when_it_is_built(change, message):
    """Each of these used to build (and fail in the first forward) or fail deep inside a layer's constructor."""
    with pytest.raises(ValueError, match=message):
        Generator(**{**GENERATOR_ARGS, **change})


def test_a_generator_of_labels_alone_builds():
    G = Generator(**{**GENERATOR_ARGS, "z_dim": 0, "c_dim": 4}).eval()
    assert G(torch.zeros(2, 0), LABELS[:2]).shape == (2, 3, 16, 16)


@pytest.mark.parametrize("change, message", [
    ({"c_dim": -2}, r"^c_dim must be an integer >= 0, got -2$"),
    ({"img_channels": 0}, r"^img_channels must be an integer >= 1, got 0$"),
    ({"c_dim": 4, "cmap_dim": 0}, r"^cmap_dim must be an integer >= 1, got 0$"),
    ({"epilogue_kwargs": {"mbstd_group_size": 0}}, r"^mbstd_group_size must be an integer >= 1, got 0$"),
    ({"epilogue_kwargs": {"mbstd_num_channels": -1}}, r"^mbstd_num_channels must be an integer >= 0, got -1$"),
])
def test_discriminator_arguments_are_checked_when_it_is_built(change, message):
    with pytest.raises(ValueError, match=message):
        Discriminator(**{"c_dim": 0, "img_resolution": 16, "img_channels": 3, "channel_base": 64, "channel_max": 8, **change})


def test_what_nvidia_builds_still_builds():
    """mbstd_group_size None (the whole batch is one group), no minibatch-std channels, cmap_dim ignored without labels."""
    img = torch.rand(3, 3, 16, 16) * 2 - 1
    for epilogue in ({"mbstd_group_size": None}, {"mbstd_num_channels": 0}):
        D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=64, channel_max=8, epilogue_kwargs=epilogue)
        assert D(img, None).shape == (3, 1)
    assert Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=64, channel_max=8, cmap_dim=0).c_dim == 0
