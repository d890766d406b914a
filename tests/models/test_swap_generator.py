"""SwapGenerator: image shapes, code normalization, noise modes, widths and input checks."""

import pytest
import torch
import torch.nn.functional as F

from stylegan2.models import SwapEncoder, SwapGenerator


def tiny_generator(**overrides) -> SwapGenerator:
    kwargs = dict(img_resolution=16, img_channels=3, spatial_code_ch=4, global_code_ch=24, num_upsampling=2, channel_base=128,
                  channel_max=16, num_base_blocks=2)
    kwargs.update(overrides)
    return SwapGenerator(**kwargs)


def random_codes(G: SwapGenerator, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    r = G.code_resolution
    return torch.randn(batch, G.spatial_code_ch, r, r), torch.randn(batch, G.global_code_ch)


@pytest.mark.parametrize(
    "config",
    [dict(), dict(img_resolution=32, img_channels=1, num_upsampling=3, num_base_blocks=1), dict(num_base_blocks=0, use_noise=False)],
)
def test_images_have_the_configured_shape(config):
    G = tiny_generator(**config)
    img = G(*random_codes(G, batch=3))
    assert img.shape == (3, G.img_channels, G.img_resolution, G.img_resolution)
    assert torch.isfinite(img).all()


def test_decodes_what_the_matching_encoder_produces():
    E = SwapEncoder(img_resolution=32, img_channels=3, channel_base=256, channel_max=16, num_downsampling_sp=3,
                    spatial_code_ch=4, global_code_ch=24)
    G = tiny_generator(img_resolution=32, num_upsampling=3)
    assert G(*E(torch.randn(2, 3, 32, 32))).shape == (2, 3, 32, 32)


def test_codes_are_normalized_first_so_their_scale_does_not_matter():
    G = tiny_generator().eval()
    structure, texture = random_codes(G)
    torch.testing.assert_close(G(structure, texture), G(3 * structure, 0.5 * texture))
    torch.testing.assert_close(G(structure, texture), G(F.normalize(structure, dim=1), F.normalize(texture, dim=1)))


def test_texture_code_changes_the_image():
    G = tiny_generator().eval()
    structure, texture = random_codes(G)
    assert not torch.allclose(G(structure, texture), G(structure, texture.roll(1, dims=0)))


def test_eval_mode_decodes_deterministically_and_training_mode_draws_noise():
    G = tiny_generator()
    with torch.no_grad():
        for layer in G.modules():
            if hasattr(layer, "noise_strength"):
                layer.noise_strength.fill_(0.5)
    structure, texture = random_codes(G)
    assert not torch.allclose(G(structure, texture), G(structure, texture))  # training mode: random noise
    G.eval()
    torch.testing.assert_close(G(structure, texture), G(structure, texture))
    assert not torch.allclose(G(structure, texture), G(structure, texture, noise_mode="none"))


def test_default_widths_are_the_papers_at_256_px():
    G = SwapGenerator(img_resolution=256, img_channels=3)
    assert [G.HeadResnetBlock0.conv1.weight.shape[0], G.HeadResnetBlock1.conv1.weight.shape[0]] == [256, 512]
    widths = [getattr(G, f"UpsamplingResBlock{res}").conv2.weight.shape[0] for res in (32, 64, 128, 256)]
    assert widths == [512, 512, 256, 128]
    assert G.code_resolution == 16


@pytest.mark.parametrize("config", [dict(img_resolution=12), dict(num_upsampling=4), dict(num_base_blocks=-1), dict(channel_base=8)])
def test_impossible_configurations_are_refused_with_a_message(config):
    with pytest.raises(ValueError, match="SwapGenerator"):
        tiny_generator(**config)


def test_wrong_code_shapes_are_refused_with_a_message():
    G = tiny_generator()
    structure, texture = random_codes(G)
    with pytest.raises(ValueError, match="structure codes"):
        G(structure[:, :, :2], texture)
    with pytest.raises(ValueError, match="texture codes"):
        G(structure, texture[:, :10])
