"""Non-square networks: a 4x8 or 8x4 learned constant, and a discriminator epilogue to match; square ones unchanged."""

import pytest
import torch

from stylegan2.io import checkpoint_info, format_info, load_network, save_network
from stylegan2.models import Discriminator, Generator
from stylegan2.models.aspect import aspect_kwargs, aspect_of, image_size

SHAPES = [("2:1", (8, 16), (4, 8)), ("1:2", (16, 8), (8, 4))]  # aspect, image (H, W), constant (h0, w0)


def tiny_G(aspect: str | None = None, seed: int = 0, architecture: str = "skip") -> Generator:
    torch.manual_seed(seed)
    extra = {} if aspect is None else {"img_aspect": aspect}
    return Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3, mapping_kwargs={"num_layers": 1},
                     synthesis_kwargs={"channel_base": 64, "channel_max": 8, "architecture": architecture, **extra})


def tiny_D(aspect: str | None = None, seed: int = 0, architecture: str = "resnet", c_dim: int = 0) -> Discriminator:
    torch.manual_seed(seed)
    extra = {} if aspect is None else {"img_aspect": aspect}
    return Discriminator(c_dim=c_dim, img_resolution=8, img_channels=3, architecture=architecture, channel_base=64,
                         channel_max=8, epilogue_kwargs={"mbstd_group_size": 2, **extra})


@pytest.mark.parametrize("aspect, image, const", SHAPES)
@pytest.mark.parametrize("architecture", ["skip", "orig", "resnet"])
def test_generator_makes_images_of_its_aspect(aspect, image, const, architecture):
    G = tiny_G(aspect, architecture=architecture)
    assert (G.img_height, G.img_width, G.img_aspect) == (*image, aspect)
    assert G.synthesis.b4.const.shape == (8, *const)
    assert G.synthesis.b8.conv0.noise_const.shape == image
    for noise_mode in ("random", "const", "none"):
        assert G(torch.randn(2, 8), None, noise_mode=noise_mode).shape == (2, 3, *image)


@pytest.mark.parametrize("aspect, image, const", SHAPES)
@pytest.mark.parametrize("architecture", ["resnet", "skip", "orig"])
def test_discriminator_takes_images_of_its_aspect(aspect, image, const, architecture):
    D = tiny_D(aspect, architecture=architecture, c_dim=3)
    assert (D.img_height, D.img_width) == image
    assert D.b4.fc.weight.shape[1] == 8 * const[0] * const[1]  # the epilogue's fc reads h0 * w0 positions
    img = torch.randn(4, 3, *image, requires_grad=True)
    logits = D(img, torch.eye(3)[[0, 1, 2, 0]])
    assert logits.shape == (4, 1)
    logits.sum().backward()
    assert img.grad.shape == img.shape


@pytest.mark.parametrize("aspect, image, const", SHAPES)
def test_discriminator_refuses_images_of_another_shape(aspect, image, const):
    with pytest.raises(ValueError, match=rf"D expects images of shape \[batch, 3, {image[0]}, {image[1]}\], got \[2, 3, 8, 8\]"):
        tiny_D(aspect)(torch.zeros(2, 3, 8, 8), None)


def test_minibatch_std_sees_every_position_of_a_wide_epilogue():
    """mbstd pools the spread over all 4x8 positions: changing sample 1's last columns moves the logit of sample 3,
    its group partner (groups of 2 take samples 1 and 3), and leaves the other group alone."""
    D = tiny_D("2:1")
    img = torch.randn(4, 3, 8, 16)
    other = img.clone()
    other[1, :, :, -2:] += 1.0
    before, after = D(img, None), D(other, None)
    assert not torch.allclose(before[3], after[3])
    torch.testing.assert_close(before[[0, 2]], after[[0, 2]], rtol=0, atol=0)


def test_square_networks_keep_nvidias_arguments_and_weights():
    square, explicit = tiny_G(), tiny_G("1:1")
    assert "img_aspect" not in square.init_kwargs["synthesis_kwargs"]
    assert square.img_aspect == "1:1" and (square.img_height, square.img_width) == (8, 8)
    a, b = square.state_dict(), explicit.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # same draws, same shapes
    z = torch.randn(2, 8)
    assert torch.equal(square(z, None, noise_mode="const"), explicit(z, None, noise_mode="const"))
    assert "img_aspect" not in tiny_D().init_kwargs["epilogue_kwargs"]


def test_aspect_kwargs_are_empty_for_square_networks():
    assert aspect_kwargs("1:1") == {} and aspect_kwargs("1:2") == {"img_aspect": "1:2"}
    assert image_size(64, "2:1") == (64, 128) and aspect_of(64, 128) == "2:1" and aspect_of(64, 96) is None


@pytest.mark.parametrize("bad", ["3:1", "2x1", 2])
def test_unknown_aspects_are_refused(bad):
    with pytest.raises(ValueError, match=r"img_aspect must be one of 1:1, 2:1, 1:2 \(width:height\)"):
        tiny_G(bad)
    with pytest.raises(ValueError, match="img_aspect must be one of"):
        tiny_D(bad)


@pytest.mark.parametrize("aspect", ["2:1", "1:2"])
def test_non_square_networks_round_trip_through_our_format(tmp_path, aspect):
    nets = {"G": tiny_G(aspect, seed=1), "D": tiny_D(aspect, seed=2)}
    nets["G_ema"] = tiny_G(aspect, seed=1)
    loaded = load_network(save_network(tmp_path / "net.safetensors", nets))
    for name, net in nets.items():
        assert loaded[name].init_kwargs == net.init_kwargs
        assert all(torch.equal(v, loaded[name].state_dict()[k]) for k, v in net.state_dict().items())
    z = torch.randn(2, 8)
    img = loaded["G_ema"](z, None, noise_mode="const")
    assert torch.equal(img, nets["G_ema"](z, None, noise_mode="const"))
    assert torch.equal(loaded["D"](img, None), nets["D"](img, None))


@pytest.mark.parametrize("aspect, image, const", SHAPES)
def test_info_reports_width_by_height(tmp_path, aspect, image, const):
    """`stylegan2 info` prints a wide or tall network's size as width x height, and D alone says the same."""
    path = tmp_path / "net.safetensors"
    save_network(path, {"G_ema": tiny_G(aspect)})
    info = checkpoint_info(path)
    assert (info["resolution"], info["img_height"], info["img_width"]) == (8, *image)
    assert f"resolution:  {image[1]}x{image[0]}, 3 channels" in format_info(info)
    save_network(path, {"D": tiny_D(aspect)}, overwrite=True)
    assert (checkpoint_info(path)["img_height"], checkpoint_info(path)["img_width"]) == image
