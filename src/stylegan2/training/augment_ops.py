"""The building blocks of the ADA pipeline: per-image homogeneous matrices, constants uploaded once, the
anti-aliased warp, and sampling and filtering that R1 can differentiate twice.

`AugmentPipe` (training.augment) draws the random parameters and composes these; each works on a whole batch,
one matrix or filter per image.
"""

import functools
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..nn.upfirdn2d import downsample2d, upsample2d

# Low-pass decomposition filters of two orthogonal wavelets (standard published coefficients).
# Symlet-6 anti-aliases the geometric warp; Symlet-2 builds the filter bank of image filtering.
SYM6 = (
    0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
    0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
    -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
)
SYM2 = (-0.12940952255092145, 0.22414386804185735, 0.836516303737469, 0.48296291314469025)


# ----------------------------------------------------------------------------------------------
# Batches of homogeneous matrices, one per image. Entries are per-image tensors [N] or constants.


def _matrix(rows: Sequence[Sequence[torch.Tensor | float]], ref: torch.Tensor) -> torch.Tensor:
    """Stack per-image entries into matrices of shape [*ref.shape, rows, cols]."""
    entries = [e if isinstance(e, torch.Tensor) else torch.full_like(ref, float(e)) for row in rows for e in row]
    return torch.stack(entries, dim=-1).reshape(*ref.shape, len(rows), len(rows[0]))


def translate2d(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    """[N, 3, 3] homogeneous 2D translations by (tx, ty)."""
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], tx)


def scale2d(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    """[N, 3, 3] homogeneous 2D scalings by (sx, sy)."""
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], sx)


def rotate2d(theta: torch.Tensor) -> torch.Tensor:
    """Counter-clockwise rotation by `theta` radians (y axis pointing down: clockwise on screen)."""
    c, s = torch.cos(theta), torch.sin(theta)
    return _matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]], theta)


def translate3d(t: torch.Tensor) -> torch.Tensor:
    """Add `t` to all three color channels: [N] -> [N, 4, 4]."""
    return _matrix([[1, 0, 0, t], [0, 1, 0, t], [0, 0, 1, t], [0, 0, 0, 1]], t)


def scale3d(s: torch.Tensor) -> torch.Tensor:
    """Multiply all three color channels by `s`: [N] -> [N, 4, 4]."""
    return _matrix([[s, 0, 0, 0], [0, s, 0, 0], [0, 0, s, 0], [0, 0, 0, 1]], s)


def rotate3d(axis: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Rotation by `theta` around the unit vector `axis` (Rodrigues' formula): [N] -> [N, 4, 4]. The axis stays a
    tensor: reading it to the host would make the CPU wait for a GPU."""
    x, y, z = axis[0], axis[1], axis[2]
    c, s = torch.cos(theta), torch.sin(theta)
    cc = 1 - c
    return _matrix([
        [x * x * cc + c, x * y * cc - z * s, x * z * cc + y * s, 0],
        [y * x * cc + z * s, y * y * cc + c, y * z * cc - x * s, 0],
        [z * x * cc - y * s, z * y * cc + x * s, z * z * cc + c, 0],
        [0, 0, 0, 1],
    ], theta)


def constant(values: Sequence[Any], device: torch.device) -> torch.Tensor:
    """A float32 tensor of fixed values on `device`, uploaded once: each upload of Python values makes the CPU wait
    until a GPU has caught up. Callers must not modify it in place."""
    array = np.asarray(values, dtype=np.float64)
    return _cached_constant(array.shape, array.tobytes(), device)


@functools.lru_cache(maxsize=256)  # a few per image size and device
def _cached_constant(shape: tuple[int, ...], data: bytes, device: torch.device) -> torch.Tensor:
    return torch.tensor(np.frombuffer(data, dtype=np.float64).reshape(shape), dtype=torch.float32, device=device)


# ----------------------------------------------------------------------------------------------
# Executing the transforms.


def warp_images(images: torch.Tensor, G_inv: torch.Tensor, lowpass: torch.Tensor) -> torch.Tensor:
    """Resample each image at G_inv @ (output pixel), anti-aliased, with mirrored content outside.

    images: [N, C, H, W]; G_inv: [N, 3, 3] maps output to input pixel coordinates measured from the
    image center; lowpass: 1-D orthogonal wavelet filter. Reflect-padding by just enough to cover
    every output pixel keeps the borders free of black (padding stops at one image size, as in
    NVIDIA's code, so extreme zoom-outs still show zeros); upsampling 2x before the bilinear lookup
    and low-pass downsampling after it suppresses aliasing. With the identity matrix this returns
    the input (up to rounding), because the filter is orthogonal.
    """
    batch, channels, height, width = images.shape
    device = images.device
    filter_pad = lowpass.shape[0] // 4

    # Where do the corners of the output come from? Pad the input to cover them, plus the filter.
    cx, cy = (width - 1) / 2, (height - 1) / 2
    corners = constant([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]], device).t()  # [xyz, corner]
    source = (G_inv @ corners)[:, :2, :].permute(1, 0, 2).flatten(1)  # [xy, batch * corner]
    margin = torch.cat([-source, source]).amax(dim=1)  # [x0, y0, x1, y1]
    margin = margin + constant([filter_pad * 2 - cx, filter_pad * 2 - cy] * 2, device)
    margin = torch.minimum(margin.clamp(min=0), constant([width - 1, height - 1] * 2, device))
    margin = margin.ceil()
    mx0, my0, mx1, my1 = (int(m) for m in margin.tolist())  # the one read to the host: F.pad takes numbers
    images = F.pad(images, [mx0, mx1, my0, my1], mode="reflect")
    shift = (margin[:2] - margin[2:]) / 2  # the padding moves the center; built on the device, not uploaded
    G_inv = translate2d(shift[0], shift[1]) @ G_inv

    # Upsample 2x: coordinates double and shift by half a pixel of the finer grid.
    images = upsample2d(images, lowpass, up=2)  # [N, C, 2 (H + my0 + my1), 2 (W + mx0 + mx1)]
    G_inv = constant([[2, 0, 0], [0, 2, 0], [0, 0, 1]], device) @ G_inv @ constant([[0.5, 0, 0], [0, 0.5, 0], [0, 0, 1]], device)
    G_inv = constant([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]], device) @ G_inv @ constant([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]], device)

    # Bilinear lookup, in grid_sample's normalized coordinates ([-1, 1] across the image).
    out_height, out_width = (height + filter_pad * 2) * 2, (width + filter_pad * 2) * 2
    # The padded size changes from call to call: built on the device (fills, no upload), not cached.
    to_normalized = _matrix([[2 / images.shape[3], 0, 0], [0, 2 / images.shape[2], 0], [0, 0, 1]], G_inv.new_zeros(()))
    from_normalized = constant([[out_width / 2, 0, 0], [0, out_height / 2, 0], [0, 0, 1]], device)
    G_inv = to_normalized @ G_inv @ from_normalized
    grid = F.affine_grid(G_inv[:, :2, :].to(images.dtype), [batch, channels, out_height, out_width], align_corners=False)
    images = bilinear_sample(images, grid)

    # Downsample 2x with the time-reversed filter (the synthesis half of the wavelet pair) and crop.
    return downsample2d(images, lowpass.flip(0), down=2, padding=-filter_pad * 2)


def bilinear_sample(images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """F.grid_sample (bilinear, zeros outside, align_corners=False) that R1 can differentiate twice.

    R1 penalizes the gradient of D(augment(x)) with respect to x, so that gradient must itself be
    differentiable; some PyTorch releases raise "derivative for aten::grid_sampler_2d_backward is
    not implemented". The gradient is linear in the incoming gradient (it is the transposed
    sampling), so its own derivative is a plain grid_sample with the same grid. The grid gets no
    gradient: here it comes from random draws.
    """
    if grid.requires_grad:
        raise ValueError("bilinear_sample does not differentiate with respect to the sampling grid")
    return _BilinearSample.apply(images, grid)


class _BilinearSample(torch.autograd.Function):
    """Sampling whose backward is `_BilinearSampleTranspose`, differentiable again."""

    @staticmethod
    def forward(ctx, images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(images, grid)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: D102
        images, grid = ctx.saved_tensors
        return _BilinearSampleTranspose.apply(grad_output, images, grid), None


class _BilinearSampleTranspose(torch.autograd.Function):
    """The adjoint of sampling: scatter gradients back to the pixels they were read from."""

    @staticmethod
    def forward(ctx, grad_output: torch.Tensor, images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(grid)
        # Modes 0, 0 = bilinear, zeros; output_mask [True, False]: the image gradient only, for which
        # `images` supplies just the shape.
        grad_images, _ = torch.ops.aten.grid_sampler_2d_backward(grad_output, images, grid, 0, 0, False, [True, False])
        return grad_images  # [N, C, H_in, W_in]

    @staticmethod
    def backward(ctx, grad2: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # noqa: D102
        (grid,) = ctx.saved_tensors
        return _BilinearSample.apply(grad2, grid), None, None


class _DepthwiseFilter(torch.autograd.Function):
    """A different filter per channel (conv2d with one group per channel), or its transpose.

    The gradient of one is the other, so every order of derivative stays one grouped convolution;
    autograd's own double backward of a grouped convolution runs one group at a time, which made
    R1 through image filtering many times slower on a GPU. The taps get no gradient (they come
    from random draws).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, transpose: bool) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(weight)
        ctx.transpose = transpose
        conv = F.conv_transpose2d if transpose else F.conv2d
        return conv(x, weight, groups=weight.shape[0])

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # noqa: D102
        (weight,) = ctx.saved_tensors
        return _DepthwiseFilter.apply(grad_output, weight, not ctx.transpose), None, None


def filter_bank(lowpass: Sequence[float] = SYM2, num_bands: int = 4) -> np.ndarray:
    """Symmetric 1-D filters [bands, taps] that split a signal into octave bands (low to high).

    Summing the rows gives the identity (a unit impulse), so unit gains leave an image unchanged.
    Built recursively: each level stretches the previous bank by 2 (zeros between taps), smooths it
    with the low-pass filter's autocorrelation, and adds a new high band from the high-pass one.
    """
    h_lo = np.asarray(lowpass, dtype=np.float64)
    h_hi = h_lo * (-1.0) ** np.arange(h_lo.size)  # H(-z): the mirrored high-pass filter
    lo2 = np.convolve(h_lo, h_lo[::-1]) / 2
    hi2 = np.convolve(h_hi, h_hi[::-1]) / 2
    bank = np.zeros([num_bands, 1])
    bank[0, 0] = 1
    for band in range(1, num_bands):
        stretched = np.zeros([num_bands, bank.shape[1] * 2 - 1])
        stretched[:, ::2] = bank
        bank = np.stack([np.convolve(row, lo2) for row in stretched])
        center = (bank.shape[1] - hi2.size) // 2
        bank[band, center : center + hi2.size] += hi2
    return bank


def apply_color(images: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """Apply per-image 4x4 color matrices [N, 4, 4] to RGB or gray images [N, C, H, W]."""
    batch, channels, height, width = images.shape
    pixels = images.reshape(batch, channels, height * width)
    if channels == 3:
        pixels = C[:, :3, :3] @ pixels + C[:, :3, 3:]
    else:  # gray images: the average effect on R, G and B (gain and offset)
        C = C[:, :3, :].mean(dim=1, keepdim=True)  # [N, 1, 4]
        pixels = pixels * C[:, :, :3].sum(dim=2, keepdim=True) + C[:, :, 3:]
    return pixels.reshape(batch, channels, height, width)


def filter_separable(images: torch.Tensor, taps: torch.Tensor, pad: int) -> torch.Tensor:
    """Filter each image [N, C, H, W] with its own symmetric 1-D taps [N, T] along x, then y."""
    batch, channels, height, width = images.shape
    taps = taps.repeat_interleave(channels, dim=0).unsqueeze(1)  # [N * C, 1, taps]
    x = F.pad(images.reshape(1, batch * channels, height, width), [pad] * 4, mode="reflect")
    x = _DepthwiseFilter.apply(x, taps.unsqueeze(2), False)  # horizontal pass
    x = _DepthwiseFilter.apply(x, taps.unsqueeze(3), False)  # vertical pass
    return x.reshape(batch, channels, height, width)
