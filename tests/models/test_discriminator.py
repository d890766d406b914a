"""Discriminator behaviour: shapes, architectures, conditioning, Freeze-D."""

import pytest
import torch

from stylegan2.models import Discriminator


def tiny_discriminator(**overrides) -> Discriminator:
    kwargs = dict(c_dim=0, img_resolution=16, img_channels=3, channel_base=128, channel_max=16)
    kwargs.update(overrides)
    return Discriminator(**kwargs)


@pytest.mark.parametrize("architecture", ["resnet", "orig", "skip"])
@pytest.mark.parametrize("channels", [1, 3])
def test_every_architecture_gives_one_logit_per_image(architecture, channels):
    D = tiny_discriminator(img_channels=channels, architecture=architecture)
    assert D(torch.randn(4, channels, 16, 16), None).shape == (4, 1)


def test_conditioning_projects_onto_the_label_embedding():
    D = tiny_discriminator(c_dim=3)
    img = torch.randn(4, 3, 16, 16)
    labels = torch.eye(3)[[0, 1, 2, 0]]
    logits = D(img, labels)
    assert logits.shape == (4, 1)
    assert not torch.allclose(logits, D(img, torch.eye(3)[[1, 2, 0, 1]]))


def test_wrong_image_shape_is_reported_clearly():
    with pytest.raises(ValueError, match=r"D expects images of shape \[batch, 3, 16, 16\]"):
        tiny_discriminator()(torch.randn(4, 3, 32, 32), None)


def test_freeze_layers_turns_the_first_layers_into_buffers():
    D = tiny_discriminator(block_kwargs={"freeze_layers": 2})
    names = {n for n, _ in D.named_parameters()}
    assert "b16.fromrgb.weight" not in names and "b16.conv0.weight" not in names
    assert "b16.conv1.weight" in names
    assert "b16.fromrgb.weight" in dict(D.named_buffers())


def test_minibatch_std_group_must_divide_the_batch():
    with pytest.raises(ValueError, match="group size 4"):
        tiny_discriminator()(torch.randn(6, 3, 16, 16), None)


def test_an_unknown_architecture_names_the_known_ones():
    with pytest.raises(ValueError, match="discriminator architecture must be one of orig, skip, resnet, got 'unet'"):
        tiny_discriminator(architecture="unet")
