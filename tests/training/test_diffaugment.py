"""DiffAugment: every transform applied to every image, differentiable, reproducible under a seed."""

import pytest
import torch

from stylegan2.training.diffaugment import DiffAugment


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
@pytest.mark.parametrize("channels", [1, 3])
def test_shape_and_dtype_are_kept(policy, channels):
    x = torch.randn(4, channels, 16, 24)
    y = DiffAugment(policy)(x)
    assert y.shape == x.shape and y.dtype == x.dtype


def test_same_seed_gives_the_same_augmentation():
    x = torch.randn(8, 3, 16, 16)
    torch.manual_seed(3)
    a = DiffAugment()(x)
    torch.manual_seed(3)
    b = DiffAugment()(x)
    torch.manual_seed(4)
    c = DiffAugment()(x)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_gradients_reach_the_input():
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    DiffAugment()(x).square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_r1_penalty_double_backward():
    D = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.LeakyReLU(0.2), torch.nn.Conv2d(4, 1, 3))
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    (grad,) = torch.autograd.grad(D(DiffAugment()(x)).sum(), x, create_graph=True)
    grad.square().sum().backward()
    assert D[0].weight.grad.abs().sum() > 0


def test_brightness_saturation_contrast_use_the_drawn_factors():
    x = torch.randn(8, 3, 16, 16)
    torch.manual_seed(5)
    y = DiffAugment("color")(x)
    torch.manual_seed(5)
    b, s, c = (torch.rand(8, 1, 1, 1) for _ in range(3))
    expected = x + (b - 0.5)
    gray = expected.mean(dim=1, keepdim=True)
    expected = (expected - gray) * (s * 2) + gray
    mean = expected.mean(dim=(1, 2, 3), keepdim=True)
    expected = (expected - mean) * (c + 0.5) + mean
    torch.testing.assert_close(y, expected)


def test_translation_shifts_by_at_most_an_eighth_and_fills_with_zeros():
    x = torch.rand(32, 1, 16, 16) + 1  # strictly positive: zeros can only come from outside
    y = DiffAugment("translation")(x)
    for img, out in zip(x, y):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if torch.equal(out, _shifted(img, dy, dx))]
        assert len(matches) == 1


def _shifted(img: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Output pixel (y, x) = input (y + dy, x + dx), zero outside."""
    out = torch.zeros_like(img)
    h, w = img.shape[1:]
    out[:, max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)] = img[:, max(dy, 0):h - max(-dy, 0), max(dx, 0):w - max(-dx, 0)]
    return out


def test_cutout_zeroes_one_square_of_half_the_size():
    y = DiffAugment("cutout")(torch.ones(32, 1, 16, 16))
    assert (y == 0).any(dim=(1, 2, 3)).all()
    for img in y[:, 0]:
        rows, cols = torch.nonzero(img == 0, as_tuple=True)
        height, width = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
        assert len(rows) == height * width and height <= 8 and width <= 8


def test_unknown_policy_is_rejected_by_name():
    with pytest.raises(ValueError, match="unknown transform.*flip"):
        DiffAugment("color,flip")


def test_debug_percentile_gives_the_same_transform_to_every_image():
    x = torch.randn(1, 3, 16, 16).repeat(4, 1, 1, 1)
    y = DiffAugment()(x, debug_percentile=0.3)
    assert all(torch.equal(y[0], y[i]) for i in range(4))


@pytest.mark.parametrize("policy", ["", " , "])
def test_a_policy_without_transforms_is_refused(policy):
    """It trained without augmentation under --aug diffaug; --aug noaug says so."""
    with pytest.raises(ValueError, match="^--diffaugment-policy must name at least one transform"):
        DiffAugment(policy)


def test_the_augmentation_config_checks_the_policy_when_made_not_when_training_starts():
    from stylegan2.training.ada import AugmentConfig

    with pytest.raises(ValueError, match="^--diffaugment-policy color,flip: unknown transform"):
        AugmentConfig(mode="diffaug", diffaugment_policy="color,flip")


# Zhao et al.'s reference (mit-han-lab/data-efficient-gans, DiffAugment-stylegan2-pytorch/DiffAugment_pytorch.py,
# commit ce71c7e): rand_translation draws torch.randint(-shift, shift + 1) for the rows, then for the columns, with
# shift = int(side * 0.125 + 0.5); rand_cutout draws the square's centre as torch.randint(0, side + (1 - size % 2))
# for the rows, then the columns, with size = int(side * 0.5 + 0.5), and zeroes rows centre - size // 2 onwards.


def test_translation_draws_zhaos_shifts_including_both_extremes():
    """Each image is shifted by the drawn randint(-shift, shift + 1) rows and columns: +shift can be drawn too."""
    x = torch.rand(64, 1, 16, 24) + 1
    torch.manual_seed(11)
    y = DiffAugment("translation")(x)
    torch.manual_seed(11)
    dy, dx = torch.randint(-2, 3, [64]), torch.randint(-3, 4, [64])  # shifts 2 (16 rows) and 3 (24 columns)
    assert {2, -2} <= set(dy.tolist()) and {3, -3} <= set(dx.tolist())
    for img, out, shift_y, shift_x in zip(x, y, dy.tolist(), dx.tolist()):
        assert torch.equal(out, _shifted(img, shift_y, shift_x))


def test_cutout_draws_zhaos_offsets_and_can_reach_the_last_rows():
    """The square starts at randint(0, side + (1 - size % 2)) - size // 2: for an even size the square can sit on
    the last size // 2 rows or columns (centre == side)."""
    torch.manual_seed(12)
    y = DiffAugment("cutout")(torch.ones(64, 1, 16, 12))
    torch.manual_seed(12)
    top, left = torch.randint(0, 17, [64]) - 4, torch.randint(0, 13, [64]) - 3  # squares of 8 rows by 6 columns
    assert top.max() == 12 and left.max() == 9
    for img, row, col in zip(y[:, 0], top.tolist(), left.tolist()):
        expected = torch.ones(16, 12)
        expected[max(row, 0):row + 8, max(col, 0):col + 6] = 0
        assert torch.equal(img, expected)
