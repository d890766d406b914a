"""SwapEncoder: code shapes, unit-norm codes, widths, and refusals of impossible configurations."""

import pytest
import torch

from stylegan2.models import SwapEncoder


def tiny_encoder(**overrides) -> SwapEncoder:
    kwargs = dict(img_resolution=16, img_channels=3, channel_base=128, channel_max=16, num_downsampling_sp=2,
                  num_downsampling_gl=1, spatial_code_ch=4, global_code_ch=24)
    kwargs.update(overrides)
    return SwapEncoder(**kwargs)


@pytest.mark.parametrize(
    "config, structure_shape, texture_shape",
    [
        (dict(), (3, 4, 4, 4), (3, 24)),
        (dict(img_resolution=32, img_channels=1, num_downsampling_sp=3, num_downsampling_gl=2, spatial_code_ch=2, global_code_ch=8),
         (3, 2, 4, 4), (3, 8)),
        (dict(img_resolution=32, num_downsampling_sp=4, num_downsampling_gl=0), (3, 4, 2, 2), (3, 24)),
    ],
)
def test_codes_have_the_configured_shapes(config, structure_shape, texture_shape):
    E = tiny_encoder(**config)
    img = torch.randn(3, E.img_channels, E.img_resolution, E.img_resolution)
    structure, texture = E(img)
    assert structure.shape == structure_shape
    assert texture.shape == texture_shape
    assert E.code_resolution == structure_shape[-1]


def test_structure_code_has_unit_norm_over_channels_at_every_position():
    structure, _ = tiny_encoder()(torch.randn(2, 3, 16, 16))
    torch.testing.assert_close(structure.norm(dim=1), torch.ones(2, 4, 4))


def test_texture_code_has_unit_norm():
    _, texture = tiny_encoder()(torch.randn(2, 3, 16, 16))
    torch.testing.assert_close(texture.norm(dim=1), torch.ones(2))


def test_each_image_is_encoded_independently():
    E = tiny_encoder()
    img = torch.randn(3, 3, 16, 16)
    structure, texture = E(img)
    structure_1, texture_1 = E(img[1:2])
    torch.testing.assert_close(structure[1:2], structure_1)
    torch.testing.assert_close(texture[1:2], texture_1)


def test_default_widths_are_the_papers_at_256_px():
    E = SwapEncoder(img_resolution=256, img_channels=3)
    assert E.FromRGB.weight.shape[0] == 32
    blocks = list(E.DownToSpatialCode)
    assert [block.conv2.weight.shape[0] for block in blocks] == [64, 128, 256, 512]
    assert [conv.weight.shape[0] for conv in E.DownToGlobalCode] == [1024, 2048]
    assert E.code_resolution == 16


def test_the_structure_branch_is_capped_by_channel_max_and_the_texture_branch_by_the_code_width():
    E = tiny_encoder(channel_base=1024, channel_max=16, global_code_ch=40)
    assert E.FromRGB.weight.shape[0] == 16
    assert E.DownToGlobalCode[0].weight.shape[0] == 40


@pytest.mark.parametrize(
    "config",
    [dict(img_resolution=24), dict(num_downsampling_sp=4), dict(num_downsampling_sp=3, num_downsampling_gl=2), dict(channel_base=8)],
)
def test_impossible_configurations_are_refused_with_a_message(config):
    with pytest.raises(ValueError, match="SwapEncoder"):
        tiny_encoder(**config)


def test_wrong_image_shape_is_refused_with_a_message():
    with pytest.raises(ValueError, match=r"\[batch, 3, 16, 16\]"):
        tiny_encoder()(torch.randn(2, 3, 32, 32))


def test_uint8_images_are_refused_as_the_discriminator_refuses_them():
    """They were cast to float and encoded unscaled, as if [0, 255] were the [-1, 1] the networks trained on."""
    pixels = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    with pytest.raises(TypeError, match=r"^SwapEncoder expects float images in \[-1, 1\], got torch.uint8; "
                                        r"convert with img.float\(\) / 127.5 - 1$"):
        tiny_encoder()(pixels)
