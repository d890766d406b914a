"""AugmentPipe (ADA): identity at p = 0, each transform does what it says, probabilities, gradients."""

import math

import pytest
import torch

from stylegan2.training import augment, augment_ops
from stylegan2.training.augment import AUGPIPE_PRESETS, MULTIPLIERS, AugmentPipe, augment_pipe_from_preset
from stylegan2.training.augment_ops import bilinear_sample, filter_bank, warp_images

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")


def blobs(batch: int, channels: int = 1, size: int = 16) -> torch.Tensor:
    """Smooth off-center Gaussian blobs (peak 1): content the anti-aliased warp moves almost exactly."""
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    centers = torch.rand(batch, channels, 2) * (size / 2) + size / 4
    dist2 = (xx - centers[..., 0, None, None]) ** 2 + (yy - centers[..., 1, None, None]) ** 2
    return torch.exp(-dist2 / (2 * 2.5**2))  # [N, C, H, W]


def binomial_ok(hits: int, trials: int, prob: float, sigmas: float = 5.0) -> bool:
    return abs(hits - trials * prob) <= sigmas * math.sqrt(trials * prob * (1 - prob)) + 1


@pytest.mark.parametrize("device", DEVICES)
def test_zero_p_returns_input_unchanged(device):
    pipe = augment_pipe_from_preset("bgcfnc", p=0.0).to(device)
    x = torch.randn(4, 3, 32, 32, device=device)
    assert torch.equal(pipe(x), x)


def test_xflip_mirrors_exactly_the_images_it_draws():
    pipe = AugmentPipe(xflip=1)
    x = blobs(32)
    torch.manual_seed(5)
    y = pipe(x)
    torch.manual_seed(5)  # the pipe draws: flip or not (1/2 each), then whether to apply (p = 1)
    flip = torch.floor(torch.rand(32) * 2).bool()
    expected = torch.where(flip[:, None, None, None], x.flip(3), x)
    assert 0 < flip.sum() < 32
    assert (y - expected).abs().max() < 0.05  # a wrong choice is off by about 0.5


def test_rotate90_rotates_by_the_drawn_multiple_of_90_degrees():
    pipe = AugmentPipe(rotate90=1)
    x = blobs(32)
    torch.manual_seed(6)
    y = pipe(x)
    torch.manual_seed(6)
    turns = torch.floor(torch.rand(32) * 4).long()
    expected = torch.stack([torch.rot90(img, int(k), dims=(1, 2)) for img, k in zip(x, turns)])
    assert len(turns.unique()) == 4
    assert (y - expected).abs().max() < 0.05


def test_integer_translation_shifts_by_the_drawn_whole_pixels():
    pipe = AugmentPipe(xint=1)
    x = torch.randn(16, 1, 16, 16)
    torch.manual_seed(7)
    y = pipe(x)
    torch.manual_seed(7)
    shift = torch.round((torch.rand(16, 2) * 2 - 1) * 0.125 * 16).long()  # [N, (x, y)], at most 2 pixels
    for img, out, (dx, dy) in zip(x, y, shift.tolist()):
        expected = torch.roll(img, (dy, dx), dims=(1, 2))
        torch.testing.assert_close(out[:, 2:-2, 2:-2], expected[:, 2:-2, 2:-2], atol=1e-5, rtol=0)


@pytest.mark.parametrize("channels", [1, 3])
def test_brightness_adds_the_drawn_offset(channels):
    pipe = AugmentPipe(brightness=1)
    x = torch.randn(8, channels, 16, 16)
    torch.manual_seed(8)
    y = pipe(x)
    torch.manual_seed(8)
    offset = torch.randn(8) * 0.2  # brightness_std
    torch.testing.assert_close(y, x + offset[:, None, None, None], atol=1e-6, rtol=0)


def test_contrast_multiplies_by_the_drawn_factor():
    pipe = AugmentPipe(contrast=1)
    x = torch.randn(8, 3, 16, 16)
    torch.manual_seed(9)
    y = pipe(x)
    torch.manual_seed(9)
    factor = torch.exp2(torch.randn(8) * 0.5)  # log2-normal with contrast_std
    torch.testing.assert_close(y, x * factor[:, None, None, None], atol=1e-5, rtol=1e-5)


def test_hue_rotation_keeps_gray_and_per_pixel_luma():
    pipe = AugmentPipe(hue=1)
    gray = torch.randn(8, 1, 16, 16).expand(8, 3, 16, 16)
    color = torch.randn(8, 3, 16, 16)
    torch.testing.assert_close(pipe(gray), gray, atol=1e-5, rtol=0)
    out = pipe(color)
    torch.testing.assert_close(out.mean(dim=1), color.mean(dim=1), atol=1e-5, rtol=0)
    assert (out - color).abs().max() > 0.1


def test_saturation_keeps_gray_pixels():
    pipe = AugmentPipe(saturation=1)
    gray = torch.randn(8, 1, 16, 16).expand(8, 3, 16, 16)
    torch.testing.assert_close(pipe(gray), gray, atol=1e-5, rtol=0)


def test_luma_flip_negates_or_keeps_grayscale_images():
    pipe = AugmentPipe(lumaflip=1)
    x = torch.randn(32, 1, 16, 16)
    y = pipe(x)
    negated = (y + x).abs().amax(dim=(1, 2, 3)) < 1e-5
    kept = (y - x).abs().amax(dim=(1, 2, 3)) < 1e-5
    assert bool((negated | kept).all()) and 0 < int(negated.sum()) < 32


def test_cutout_zeroes_one_square_of_half_the_size():
    pipe = AugmentPipe(cutout=1)
    y = pipe(torch.ones(16, 1, 16, 16))
    for img in y[:, 0]:
        rows, cols = torch.nonzero(img == 0, as_tuple=True)
        assert 0 < len(rows) <= 8 * 8
        height, width = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
        assert len(rows) == height * width  # a filled rectangle (a square cut by the border)
        assert height <= 8 and width <= 8


def test_noise_is_added_with_the_drawn_strength():
    pipe = AugmentPipe(noise=1)
    x = torch.zeros(64, 3, 16, 16)
    torch.manual_seed(10)
    y = pipe(x)
    torch.manual_seed(10)
    sigma = torch.randn(64).abs() * 0.1  # noise_std
    torch.testing.assert_close(y.std(dim=(1, 2, 3)), sigma, atol=0.01, rtol=0.1)


def test_filter_bank_bands_sum_to_the_identity():
    bank = filter_bank()
    impulse = torch.zeros(bank.shape[1], dtype=torch.float64)
    impulse[bank.shape[1] // 2] = 1
    assert bank.shape == (4, 43)
    torch.testing.assert_close(torch.from_numpy(bank.sum(axis=0)), impulse, atol=1e-9, rtol=0)
    torch.testing.assert_close(torch.from_numpy(bank), torch.from_numpy(bank[:, ::-1].copy()))  # symmetric


def test_image_filtering_with_unit_gains_is_identity():
    pipe = AugmentPipe(imgfilter=1, imgfilter_bands=[0, 0, 0, 0])  # no band ever amplified
    x = torch.randn(4, 3, 32, 32)
    torch.testing.assert_close(pipe(x), x, atol=1e-5, rtol=0)


def _applied(name: str, multiplier: float, p: float, monkeypatch) -> tuple[int, int]:
    """(images visibly changed by transform `name` alone, images tried)."""
    pipe = AugmentPipe(**{name: multiplier})
    pipe.p.fill_(p)
    if name in GEOMETRIC:  # read the per-image matrix instead of warping 4000 images
        matrices = []
        monkeypatch.setattr(augment, "warp_images", lambda images, G_inv, lowpass: matrices.append(G_inv) or images)
        pipe(torch.zeros(4000, 1, 16, 16))
        changed = (matrices[0] - torch.eye(3)).abs().amax(dim=(1, 2)) > 1e-6
        return int(changed.sum()), 4000
    if name == "imgfilter":
        x = torch.randn(1000, 1, 22, 22)
    else:
        x = torch.randn(4000, 3, 4, 4) if name != "cutout" else torch.ones(4000, 1, 8, 8)
    changed = (pipe(x) - x).abs().amax(dim=(1, 2, 3)) > 1e-4
    return int(changed.sum()), len(x)


# Chance that an applied transform is visible: a flip or luma flip draws "no" half the time, a
# 90-degree rotation draws 0 turns a quarter of the time, an integer shift of a 16-pixel image
# rounds to (0, 0) with chance 1/16. Image filtering draws each of the 4 bands separately.
VISIBLE = {"xflip": 0.5, "rotate90": 0.75, "xint": 15 / 16, "lumaflip": 0.5}


@pytest.mark.parametrize("name", MULTIPLIERS)
def test_transform_rate_matches_p_times_multiplier(name, monkeypatch):
    p, multiplier = 0.4, 0.75
    hits, trials = _applied(name, multiplier, p, monkeypatch)
    chance = p * multiplier
    expected = 1 - (1 - chance) ** 4 if name == "imgfilter" else chance * VISIBLE.get(name, 1.0)
    assert binomial_ok(hits, trials, expected), f"{name}: {hits}/{trials} applied, expected rate {expected:.3f}"


def test_identity_warp_reproduces_the_input():
    x = torch.randn(3, 2, 16, 24)
    lowpass = augment_pipe_from_preset("bg").Hz_geom
    y = warp_images(x, torch.eye(3).expand(3, 3, 3), lowpass)
    torch.testing.assert_close(y, x, atol=1e-5, rtol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", GEOMETRIC)
def test_constant_image_stays_constant_under_each_geometric_transform(name, device):
    pipe = AugmentPipe(**{name: 1}).to(device)
    y = pipe(torch.full((64, 3, 16, 16), 0.7, device=device))
    assert (y - 0.7).abs().max() < 1e-3  # black leaking in from outside would give ~0.7


@pytest.mark.parametrize("percentile", [0.1, 0.5, 0.9])
def test_constant_image_stays_constant_under_all_geometric_transforms(percentile):
    pipe = augment_pipe_from_preset("bg", p=1.0)
    y = pipe(torch.full((2, 1, 16, 16), 0.7), debug_percentile=percentile)
    assert (y - 0.7).abs().max() < 1e-3


def test_gradients_reach_the_input():
    pipe = augment_pipe_from_preset("bgcfnc", p=0.8)
    x = torch.randn(4, 3, 32, 32, requires_grad=True)
    pipe(x).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("device", DEVICES)
def test_r1_penalty_double_backward_through_the_pipe(device):
    D = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.LeakyReLU(0.2), torch.nn.Conv2d(4, 1, 3)).to(device)
    pipe = augment_pipe_from_preset("bgcfnc", p=1.0).to(device)
    x = torch.randn(4, 3, 32, 32, device=device, requires_grad=True)
    logits = D(pipe(x))
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    grad.square().sum().backward()
    weight_grad = D[0].weight.grad
    assert weight_grad is not None and torch.isfinite(weight_grad).all() and weight_grad.abs().sum() > 0


def test_bilinear_sample_matches_grid_sample_and_its_gradient():
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    grid = torch.rand(2, 6, 7, 2, dtype=torch.float64) * 2.4 - 1.2
    ours = bilinear_sample(x, grid)
    theirs = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    torch.testing.assert_close(ours, theirs)
    weights = torch.randn_like(ours)
    (grad_ours,) = torch.autograd.grad((ours * weights).sum(), x)
    (grad_theirs,) = torch.autograd.grad((theirs * weights).sum(), x)
    torch.testing.assert_close(grad_ours, grad_theirs)
    assert torch.autograd.gradgradcheck(lambda img: bilinear_sample(img, grid), (x,))


def test_bilinear_sample_refuses_a_grid_that_needs_gradients():
    with pytest.raises(ValueError, match="sampling grid"):
        bilinear_sample(torch.randn(1, 1, 4, 4), torch.zeros(1, 2, 2, 2, requires_grad=True))


def test_warp_second_derivative_matches_finite_differences():
    lowpass = augment_pipe_from_preset("bg").Hz_geom.double()
    G_inv = augment_ops.rotate2d(torch.tensor([0.3])) @ augment_ops.scale2d(torch.tensor([1.1]), torch.tensor([0.9]))
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda img: warp_images(img, G_inv, lowpass).square(), (x,))


@pytest.mark.parametrize("transpose", [False, True])
def test_per_channel_filter_second_derivative_matches_finite_differences(transpose):
    x = torch.randn(1, 2, 3, 9, dtype=torch.float64, requires_grad=True)
    taps = torch.randn(2, 1, 1, 5, dtype=torch.float64)  # one 1-D filter per channel
    assert torch.autograd.gradgradcheck(lambda img: augment_ops._DepthwiseFilter.apply(img, taps, transpose).square(), (x,))


def test_grayscale_images_get_every_transform():
    pipe = augment_pipe_from_preset("bgcfnc", p=1.0)
    x = torch.randn(4, 1, 32, 32)
    y = pipe(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_color_transforms_reject_two_channel_images():
    with pytest.raises(ValueError, match="RGB"):
        augment_pipe_from_preset("color", p=1.0)(torch.randn(2, 2, 16, 16))


def test_debug_percentile_outside_the_open_unit_interval_is_rejected():
    with pytest.raises(ValueError, match="debug_percentile"):
        augment_pipe_from_preset("bgc")(torch.randn(2, 3, 16, 16), debug_percentile=0.0)


@pytest.mark.parametrize("name", list(AUGPIPE_PRESETS))
def test_preset_turns_on_exactly_its_transforms(name):
    pipe = augment_pipe_from_preset(name, p=0.3)
    on = {m for m in MULTIPLIERS if getattr(pipe, m) > 0}
    assert on == set(AUGPIPE_PRESETS[name])
    assert all(getattr(pipe, m) == 1 for m in on) and float(pipe.p) == pytest.approx(0.3)


def test_bgc_preset_is_blit_geometry_and_color():
    assert AUGPIPE_PRESETS["bgc"] == {**AUGPIPE_PRESETS["blit"], **AUGPIPE_PRESETS["geom"], **AUGPIPE_PRESETS["color"]}


def test_unknown_preset_is_rejected_with_the_choices():
    with pytest.raises(ValueError, match="--augpipe must be one of .*bgc"):
        augment_pipe_from_preset("bgx")


def test_constructor_defaults_are_the_official_strengths():
    pipe = AugmentPipe()
    assert float(pipe.p) == 1.0 and all(getattr(pipe, m) == 0 for m in MULTIPLIERS)
    assert (pipe.xint_max, pipe.scale_std, pipe.rotate_max, pipe.aniso_std, pipe.xfrac_std) == (0.125, 0.2, 1, 0.2, 0.125)
    assert (pipe.brightness_std, pipe.contrast_std, pipe.hue_max, pipe.saturation_std) == (0.2, 0.5, 1, 1)
    assert (pipe.imgfilter_bands, pipe.imgfilter_std, pipe.noise_std, pipe.cutout_size) == ([1, 1, 1, 1], 1, 0.1, 0.5)
    assert sorted(pipe.state_dict()) == ["Hz_fbank", "Hz_geom", "p"]


def test_settings_round_trip_through_init_kwargs():
    pipe = augment_pipe_from_preset("bgcf", p=0.42)
    rebuilt = AugmentPipe.from_settings({"init_kwargs": pipe.init_kwargs, "p": float(pipe.p)})
    assert rebuilt.init_kwargs == pipe.init_kwargs and float(rebuilt.p) == float(pipe.p)


def test_settings_with_an_unknown_argument_are_rejected():
    with pytest.raises(ValueError, match="unknown AugmentPipe argument.*warp_speed"):
        AugmentPipe.from_settings({"init_kwargs": {"xflip": 1, "warp_speed": 9}})


def test_official_pickle_augment_pipe_rebuilds(shared_dir):
    from stylegan2.io import load_checkpoint

    settings = load_checkpoint(shared_dir / "fixtures" / "official_small.pkl").augment_pipe
    pipe = AugmentPipe.from_settings(settings)
    assert {m for m in MULTIPLIERS if getattr(pipe, m) > 0} == set(AUGPIPE_PRESETS["bgc"])
    assert float(pipe.p) == pytest.approx(0.25)


@pytest.mark.parametrize("channels", [1, 3])
def test_only_images_drawn_for_a_transform_are_touched(channels, monkeypatch):
    """At small p most images draw no transform: they come back bit for bit, and the others exactly as
    the whole-batch computation transforms them (which also resamples the untouched ones, up to rounding)."""
    pipe = augment_pipe_from_preset("bgcfnc", 0.05)
    x = blobs(64, channels, size=48)
    torch.manual_seed(0)
    out = pipe(x)
    touched = (out != x).flatten(1).any(dim=1)
    assert 5 < int(touched.sum()) < 59  # both kinds are present

    monkeypatch.setattr(augment, "_transform_where", lambda images, changed, transform: transform(torch.arange(images.shape[0])))
    torch.manual_seed(0)
    whole_batch = pipe(x)
    torch.testing.assert_close(out[touched], whole_batch[touched], atol=1e-5, rtol=0)
    torch.testing.assert_close(whole_batch[~touched], x[~touched], atol=1e-4, rtol=0)


def test_touching_a_subset_keeps_gradients_for_every_image():
    pipe = augment_pipe_from_preset("bgc", 0.1)
    x = blobs(32, 3, size=16).requires_grad_(True)
    torch.manual_seed(1)
    out = pipe(x)
    (grad,) = torch.autograd.grad(out.square().sum(), x)
    touched = (out != x).flatten(1).any(dim=1).detach()
    torch.testing.assert_close(grad[~touched], 2 * x.detach()[~touched])  # identity: d(x^2)/dx
    assert torch.isfinite(grad).all() and touched.any()


@pytest.mark.parametrize("p", [0.1, 1.0])  # some images touched, every image touched
def test_a_channels_last_batch_stays_channels_last(p):
    """D runs channels_last on CPU (and with --nhwc): the pipe hands its layout back, with the same values."""
    pipe = augment_pipe_from_preset("bgc", p)
    x = blobs(32, 3, size=16)
    torch.manual_seed(2)
    expected = pipe(x)
    torch.manual_seed(2)
    out = pipe(x.contiguous(memory_format=torch.channels_last))
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("p", [0.0, 0.05, 1.0])
def test_the_gpu_path_transforms_the_whole_batch_and_keeps_the_rest_exactly(p, monkeypatch):
    """On a GPU no value is read back (p, which images changed): the whole batch is transformed and a mask keeps the
    images that drew the identity bit for bit; the others match the CPU path's subset computation."""
    pipe = augment_pipe_from_preset("bgcfnc", p)
    x = blobs(32, 3, size=32).contiguous(memory_format=torch.channels_last)
    torch.manual_seed(0)
    subset = pipe(x)
    monkeypatch.setattr(augment, "reads_are_free", lambda device: False)
    monkeypatch.setattr(torch.Tensor, "nonzero", lambda *args, **kwargs: pytest.fail("nonzero() reads back from the GPU"))
    torch.manual_seed(0)
    masked = pipe(x)
    touched = (subset != x).flatten(1).any(dim=1)
    assert torch.equal(masked[~touched], x[~touched])
    torch.testing.assert_close(masked[touched], subset[touched], atol=1e-5, rtol=0)
    assert masked.is_contiguous(memory_format=torch.channels_last)


def test_the_gpu_path_reads_one_value_back_and_uploads_nothing_after_the_first_batch(monkeypatch):
    """Each upload of Python values (torch.tensor(..., device=)) and each read to the host makes the CPU wait for a
    GPU: the pipe keeps its fixed matrices on the device and reads only the geometric padding, once per call."""
    pipe = augment_pipe_from_preset("bgcfnc", 0.5)
    monkeypatch.setattr(augment, "reads_are_free", lambda device: False)
    x = blobs(8, 3, size=32)
    pipe(x)  # the first batch uploads the fixed matrices
    waits = []
    upload = torch.tensor

    def counted_upload(data, *args, **kwargs):
        if kwargs.get("device") is not None and not isinstance(data, torch.Tensor):
            waits.append("upload")
        return upload(data, *args, **kwargs)

    monkeypatch.setattr(torch, "tensor", counted_upload)
    for name in ("tolist", "item", "__float__", "__int__", "__bool__"):
        def counted_read(self, *args, _read=getattr(torch.Tensor, name), _name=name, **kwargs):
            waits.append(_name)
            return _read(self, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, counted_read)
    pipe(x)
    assert waits == ["tolist"]
