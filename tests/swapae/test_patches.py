"""Patch sampling: shapes, crops inside the image, gradients, and the identity crop."""

import pytest
import torch

from stylegan2.swapae.patches import sample_patches


def coordinate_image(size: int) -> torch.Tensor:
    """[1, 2, size, size]: channel 0 holds each pixel's column index, channel 1 its row index."""
    ramp = torch.arange(size, dtype=torch.float32)
    return torch.stack([ramp.expand(size, size), ramp[:, None].expand(size, size)])[None]


def test_patches_have_the_requested_shape():
    img = torch.randn(3, 2, 32, 32)
    assert sample_patches(img, num_patches=5, patch_size=8).shape == (3, 5, 2, 8, 8)


def test_a_full_image_crop_at_the_image_size_is_the_image():
    img = torch.randn(2, 3, 16, 16)
    patches = sample_patches(img, num_patches=3, patch_size=16, min_scale=1.0, max_scale=1.0)
    for k in range(3):
        torch.testing.assert_close(patches[:, k], img, rtol=0, atol=1e-5)


def test_crops_lie_inside_the_image_on_the_pixel_grid():
    # Half-size crops sampled at the image's pixel spacing read whole pixels: column indices x0 .. x0 + 7.
    img = coordinate_image(16)
    patches = sample_patches(img.expand(64, -1, -1, -1), num_patches=4, patch_size=8, min_scale=0.5, max_scale=0.5)
    cols, rows = patches[:, :, 0], patches[:, :, 1]
    steps = torch.arange(8, dtype=torch.float32)
    left, top = cols[..., 0, :1], rows[..., :1, 0]  # [N, K, 1]
    torch.testing.assert_close(cols, (left + steps)[..., None, :].expand_as(cols), rtol=0, atol=1e-4)
    torch.testing.assert_close(rows, (top + steps)[..., :, None].expand_as(rows), rtol=0, atol=1e-4)
    assert left.min() >= -1e-4 and left.max() <= 8 + 1e-4
    assert top.min() >= -1e-4 and top.max() <= 8 + 1e-4
    assert left.std() > 1 and top.std() > 1  # positions vary


def test_crop_sides_are_square_and_within_the_scale_range():
    size, p = 32, 8
    img = coordinate_image(size)
    patches = sample_patches(img.expand(200, -1, -1, -1), num_patches=2, patch_size=p, min_scale=0.25, max_scale=0.5)
    # On a linear ramp bilinear sampling is exact: the first-to-last sample span is side * (1 - 1/p).
    span_x = patches[:, :, 0, 0, -1] - patches[:, :, 0, 0, 0]
    span_y = patches[:, :, 1, -1, 0] - patches[:, :, 1, 0, 0]
    torch.testing.assert_close(span_x, span_y, rtol=0, atol=1e-4)
    side = span_x / (1 - 1 / p)
    assert side.min() >= 0.25 * size - 1e-3 and side.max() <= 0.5 * size + 1e-3
    assert side.max() - side.min() > 0.5 * 0.25 * size  # the sides spread over the range


def test_gradients_flow_back_to_the_image():
    img = torch.randn(2, 3, 16, 16, requires_grad=True)
    sample_patches(img, num_patches=4, patch_size=8).square().sum().backward()
    assert img.grad is not None and img.grad.abs().sum() > 0


def test_each_image_is_cropped_from_itself():
    img = torch.stack([torch.zeros(1, 8, 8), torch.ones(1, 8, 8)])
    patches = sample_patches(img, num_patches=3, patch_size=4)
    torch.testing.assert_close(patches[0], torch.zeros_like(patches[0]), rtol=0, atol=1e-6)
    torch.testing.assert_close(patches[1], torch.ones_like(patches[1]), rtol=0, atol=1e-6)


def test_a_generator_makes_crops_reproducible():
    img = torch.randn(2, 3, 16, 16)
    a = sample_patches(img, 4, 8, generator=torch.Generator().manual_seed(1))
    b = sample_patches(img, 4, 8, generator=torch.Generator().manual_seed(1))
    c = sample_patches(img, 4, 8, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)


@pytest.mark.parametrize("kwargs", [dict(min_scale=0.5, max_scale=0.25), dict(min_scale=0.0), dict(max_scale=1.5), dict(num_patches=0)])
def test_bad_settings_are_refused_with_a_message(kwargs):
    args = dict(num_patches=2, patch_size=4) | kwargs
    with pytest.raises(ValueError, match="sample_patches"):
        sample_patches(torch.randn(1, 3, 8, 8), **args)
