"""CooccurrenceDiscriminator: logit shapes, per-image references, order invariance of the reference set."""

import pytest
import torch

from stylegan2.models import CooccurrenceDiscriminator


def tiny_dpatch(**overrides) -> CooccurrenceDiscriminator:
    kwargs = dict(img_channels=3, patch_size=8, channel_base=64, channel_max=16)
    kwargs.update(overrides)
    return CooccurrenceDiscriminator(**kwargs)


@pytest.mark.parametrize("patch_size, channels, k, m", [(8, 3, 5, 4), (16, 1, 2, 7), (4, 3, 1, 1)])
def test_one_logit_per_judged_patch(patch_size, channels, k, m):
    Dpatch = tiny_dpatch(patch_size=patch_size, img_channels=channels)
    logits = Dpatch(torch.randn(3, k, channels, patch_size, patch_size), torch.randn(3, m, channels, patch_size, patch_size))
    assert logits.shape == (3, k)


def test_each_image_is_judged_against_its_own_references_only():
    Dpatch = tiny_dpatch()
    patches, reference = torch.randn(2, 3, 3, 8, 8), torch.randn(2, 4, 3, 8, 8)
    logits = Dpatch(patches, reference)
    changed = reference.clone()
    changed[1] = torch.randn(4, 3, 8, 8)
    other = Dpatch(patches, changed)
    torch.testing.assert_close(other[0], logits[0])
    assert not torch.allclose(other[1], logits[1])


def test_reference_patches_are_aggregated_so_their_order_does_not_matter():
    Dpatch = tiny_dpatch()
    patches, reference = torch.randn(2, 3, 3, 8, 8), torch.randn(2, 4, 3, 8, 8)
    torch.testing.assert_close(Dpatch(patches, reference), Dpatch(patches, reference.flip(1)))


def test_the_mlp_is_as_wide_as_its_input_up_to_2048():
    assert tiny_dpatch().pairlinear[0].weight.shape == (2 * 16 * 4, 2 * 16 * 4)
    assert tiny_dpatch(mlp_channels=10).pairlinear[0].weight.shape == (10, 2 * 16 * 4)


def test_default_widths_are_the_papers():
    Dpatch = CooccurrenceDiscriminator(img_channels=3)
    assert Dpatch.patch_size == 128
    assert [Dpatch.b128.conv0.weight.shape[0], Dpatch.b16.conv1.weight.shape[0], Dpatch.b4.conv1.weight.shape[0]] == [32, 384, 384]
    assert Dpatch.pairlinear[0].weight.shape == (2048, 2 * 384 * 4)


def test_wrong_patch_shapes_are_refused_with_a_message():
    Dpatch = tiny_dpatch()
    with pytest.raises(ValueError, match="patches of shape"):
        Dpatch(torch.randn(2, 3, 3, 16, 16), torch.randn(2, 4, 3, 8, 8))
    with pytest.raises(ValueError, match="reference patches for 1 images"):
        Dpatch(torch.randn(2, 3, 3, 8, 8), torch.randn(1, 4, 3, 8, 8))


@pytest.mark.parametrize("config", [dict(patch_size=12), dict(patch_size=2), dict(channel_base=4)])
def test_impossible_configurations_are_refused_with_a_message(config):
    with pytest.raises(ValueError, match="CooccurrenceDiscriminator"):
        tiny_dpatch(**config)
