"""Noise strength and conv_clamp in the networks, as NVIDIA's layers apply them (training/networks.py of
stylegan2-ada-pytorch): random noise is N(0, 1) noise times noise_strength, like the stored noise; a
SynthesisLayer's or Conv2dLayer's output is clipped to +-conv_clamp * gain, ToRGBLayer's to +-conv_clamp."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from stylegan2.io import load_checkpoint
from stylegan2.models import Discriminator, Generator
from stylegan2.models.synthesis import SynthesisLayer, ToRGBLayer
from stylegan2.nn.layers import Conv2dLayer

CLAMP = 0.05  # far below these networks' activations, so that every clamped layer clips


def tiny_generator(architecture: str = "skip", conv_clamp: float | None = None) -> Generator:
    """A 16 px generator whose noise strengths differ from layer to layer (none 0 or 1)."""
    G = Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 2},
                  synthesis_kwargs={"channel_base": 128, "channel_max": 16, "architecture": architecture,
                                    "conv_clamp": conv_clamp})
    with torch.no_grad():
        for i, layer in enumerate(noisy_layers(G)):
            layer.noise_strength.fill_(0.3 + 0.2 * i)
    return G.eval()


def noisy_layers(G: torch.nn.Module) -> list[SynthesisLayer]:
    return [m for m in G.synthesis.modules() if isinstance(m, SynthesisLayer) and m.use_noise]


def draw_stored_noise(G: torch.nn.Module, monkeypatch) -> None:
    """Make torch.randn, as a synthesis layer calls it, return that layer's noise_const broadcast to the shape
    asked: noise_mode='random' then draws the noise that 'const' reads."""
    running: list[SynthesisLayer] = []
    for layer in noisy_layers(G):
        layer.register_forward_pre_hook(lambda layer, args: running.append(layer))
    monkeypatch.setattr(torch, "randn", lambda *shape, device=None: running[-1].noise_const.expand(*shape).to(device))


@torch.no_grad()
def test_random_noise_is_scaled_by_noise_strength_like_the_stored_noise(monkeypatch):
    G = tiny_generator()
    ws = G.mapping(torch.randn(2, 16), None)
    const = G.synthesis(ws, noise_mode="const")
    assert not torch.allclose(const, G.synthesis(ws, noise_mode="none"))  # the noise counts
    draw_stored_noise(G, monkeypatch)
    torch.testing.assert_close(G.synthesis(ws, noise_mode="random"), const)


@torch.no_grad()
def test_random_noise_of_zero_strength_is_no_noise():
    G = tiny_generator()
    for layer in noisy_layers(G):
        layer.noise_strength.zero_()
    ws = G.mapping(torch.randn(2, 16), None)
    assert torch.equal(G.synthesis(ws, noise_mode="random"), G.synthesis(ws, noise_mode="none"))


@torch.no_grad()
def test_random_noise_drawn_as_the_stored_noise_gives_nvidias_const_image(shared_dir: Path, monkeypatch):
    """official_small.pkl's noise strengths are trained values (negative ones too); the expected image is NVIDIA's
    synthesis with noise_mode='const' (../shared/fixtures/README.md)."""
    G = load_checkpoint(shared_dir / "fixtures" / "official_small.pkl").networks["G_ema"]
    expected = torch.load(shared_dir / "fixtures" / "official_small_expected.pt", weights_only=True)
    draw_stored_noise(G, monkeypatch)
    img = G.synthesis(expected["ws"], noise_mode="random", force_fp32=True)
    assert (img - expected["img_const"]).abs().max() < 1e-4  # the fixtures' parity tolerance


def clipped_gains(net: torch.nn.Module, layer_type: type | tuple[type, ...], run) -> dict[str, float]:
    """Run `run()` and check that each call of a `layer_type` layer with a conv_clamp returned its output without the
    clamp (computed again) clipped to +-CLAMP * gain, and that the clip cut something; return {layer name: gain}."""
    calls = []
    layers = {m: name for name, m in net.named_modules() if isinstance(m, layer_type) and m.conv_clamp is not None}
    hooks = [m.register_forward_hook(lambda m, args, kwargs, out: calls.append((m, args, kwargs, out)), with_kwargs=True)
             for m in layers]
    run()
    for hook, m in zip(hooks, layers):
        hook.remove()
        m.conv_clamp = None
    gains = {}
    for m, args, kwargs, out in calls:
        gains[layers[m]] = gain = kwargs.get("gain", 1.0)
        unclamped = m(*args, **kwargs)
        assert unclamped.abs().max() > CLAMP * gain, layers[m]
        assert torch.equal(out, unclamped.clamp(-CLAMP * gain, CLAMP * gain)), layers[m]
    return gains


HALF = math.sqrt(0.5)  # the gain of a resnet block's second conv (NVIDIA's SynthesisBlock and DiscriminatorBlock)


@pytest.mark.parametrize("architecture, expected", [
    ("skip", {"b4.conv1": 1, "b4.torgb": 1, "b8.conv0": 1, "b8.conv1": 1, "b8.torgb": 1,
              "b16.conv0": 1, "b16.conv1": 1, "b16.torgb": 1}),
    ("resnet", {"b4.conv1": 1, "b8.conv0": 1, "b8.conv1": HALF, "b16.conv0": 1, "b16.conv1": HALF, "b16.torgb": 1}),
])
@torch.no_grad()
def test_synthesis_layers_are_clipped_to_conv_clamp_times_their_gain(architecture, expected):
    G = tiny_generator(architecture, conv_clamp=CLAMP)
    ws = G.mapping(torch.randn(2, 16), None)
    assert clipped_gains(G.synthesis, (SynthesisLayer, ToRGBLayer), lambda: G.synthesis(ws, noise_mode="const")) == expected


@torch.no_grad()
def test_discriminator_layers_are_clipped_to_conv_clamp_times_their_gain():
    """NVIDIA clamps every conv of D's blocks and the epilogue's conv, not the resnet skips or the fully connected
    layers. Biases of 1 keep every layer's output above its bound, although its input was clipped."""
    D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=128, channel_max=16,
                      architecture="resnet", conv_clamp=CLAMP).eval()
    for m in D.modules():
        if isinstance(m, Conv2dLayer) and m.bias is not None:
            m.bias.fill_(1.0)
    assert clipped_gains(D, Conv2dLayer, lambda: D(torch.randn(4, 3, 16, 16), None)) == {
        "b16.fromrgb": 1, "b16.conv0": 1, "b16.conv1": HALF, "b8.conv0": 1, "b8.conv1": HALF, "b4.conv": 1,
    }
