"""Upsample, FIR-filter, downsample: the resampling primitive of StyleGAN2, in plain PyTorch.

`upfirdn2d` inserts zeros to upsample, pads (or crops, for negative padding), convolves with a
low-pass FIR filter and keeps every `down`-th pixel. The same semantics as NVIDIA's CUDA op, so
networks trained with it give the same outputs here. Separable filters run as two 1-D passes.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

Padding = int | Sequence[int]


def setup_filter(
    f: Sequence[float] | torch.Tensor | None,
    normalize: bool = True,
    flip_filter: bool = False,
    gain: float = 1.0,
    separable: bool | None = None,
) -> torch.Tensor:
    """Turn a list of taps into a float32 filter tensor: 1-D (separable) or 2-D (outer product).

    By default 1-D filters with fewer than 8 taps become 2-D, as in the official code (a small
    2-D filter is one conv instead of two).
    """
    f = torch.as_tensor(1.0 if f is None else f, dtype=torch.float32)
    if f.ndim == 0:
        f = f.reshape(1)
    if f.ndim not in (1, 2) or f.numel() == 0:
        raise ValueError(f"FIR filter must be a non-empty 1-D or 2-D array, got shape {list(f.shape)}")
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if f.ndim == 1 and not separable:
        f = torch.outer(f, f)
    if normalize:
        f = f / f.sum()
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    return f * (gain ** (f.ndim / 2))


def parse_padding(padding: Padding) -> tuple[int, int, int, int]:
    """Padding as (x0, x1, y0, y1) from an int, [x, y] or [x0, x1, y0, y1]."""
    if isinstance(padding, int):
        return padding, padding, padding, padding
    padding = [int(p) for p in padding]
    if len(padding) == 2:
        return padding[0], padding[0], padding[1], padding[1]
    if len(padding) == 4:
        return padding[0], padding[1], padding[2], padding[3]
    raise ValueError(f"padding must have 1, 2 or 4 entries, got {padding}")


def filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    """(width, height) of a filter; (1, 1) for the identity."""
    if f is None:
        return 1, 1
    return (f.shape[-1], f.shape[0])


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample by zero insertion, pad, convolve with `f` (true convolution), downsample.

    x: [batch, channels, height, width]; f: 1-D separable or 2-D filter (float32), or None.
    Padding is relative to the upsampled image; negative values crop.
    """
    if f is None:
        f = torch.ones(1, 1, dtype=torch.float32, device=x.device)
    if torch.jit.is_tracing():  # export (ONNX, TorchScript) records plain ops; a Function's Python code cannot be saved
        return _upfirdn2d_forward(x, f, up, down, parse_padding(padding), flip_filter, gain)
    return _UpFirDn2d.apply(x, f, up, down, parse_padding(padding), flip_filter, gain)


class _UpFirDn2d(torch.autograd.Function):
    """upfirdn2d whose gradient is again an upfirdn2d (with up/down swapped and the filter flipped).

    Autograd's own double backward of the depthwise convolution inside would loop over channels,
    one convolution each, which made R1 several times slower; this keeps every order of derivative
    a single filtering pass, as NVIDIA's CUDA op does.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, f: torch.Tensor, up: int, down: int, padding: tuple[int, int, int, int],  # noqa: D102
                flip_filter: bool, gain: float) -> torch.Tensor:
        y = _upfirdn2d_forward(x, f, up, down, padding, flip_filter, gain)
        ctx.save_for_backward(f)
        ctx.config = (up, down, padding, flip_filter, gain, x.shape, y.shape)
        return y

    @staticmethod
    def backward(ctx, dy: torch.Tensor) -> tuple[torch.Tensor | None, None, None, None, None, None, None]:  # noqa: D102
        (f,) = ctx.saved_tensors
        up, down, (px0, px1, py0, py1), flip_filter, gain, in_shape, out_shape = ctx.config
        fw, fh = filter_size(f)
        ih, iw = in_shape[2], in_shape[3]
        oh, ow = out_shape[2], out_shape[3]
        padding = [
            fw - px0 - 1,
            iw * up - ow * down + px0 - up + 1,
            fh - py0 - 1,
            ih * up - oh * down + py0 - up + 1,
        ]
        dx = None
        if ctx.needs_input_grad[0]:
            dx = upfirdn2d(dy, f, up=down, down=up, padding=padding, flip_filter=not flip_filter, gain=gain)
        return dx, None, None, None, None, None, None


def _upfirdn2d_forward(
    x: torch.Tensor, f: torch.Tensor, up: int, down: int, padding: tuple[int, int, int, int], flip_filter: bool, gain: float
) -> torch.Tensor:
    if x.dtype == torch.bfloat16 and x.device.type == "cpu":
        # oneDNN's bfloat16 depthwise convolutions (these filters) are many times slower than float32 ones (docs/performance.md)
        return _upfirdn2d_forward(x.float(), f, up, down, padding, flip_filter, gain).to(torch.bfloat16)
    channels = int(x.shape[1])  # a constant in traced graphs: ONNX needs static kernel shapes
    f = (f * gain ** (f.ndim / 2)).to(x.dtype)
    if up > 1:
        x = _upsample_filter(x, f, up, padding, flip_filter)
        return x[:, :, ::down, ::down] if down > 1 else x

    px0, px1, py0, py1 = padding
    conv_padding = (0, 0)
    if px0 == px1 >= 0 and py0 == py1 >= 0:  # the convolution pads symmetrically itself, without a padded copy
        conv_padding = (py0, px0)
    else:
        x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
        x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    # conv2d is a correlation; flipping the filter makes it a convolution (depthwise: one per channel).
    # A strided convolution computes only the pixels that down-sampling keeps.
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))
    if f.ndim == 2:
        return F.conv2d(x, f[None, None].expand(channels, 1, *f.shape), stride=down, padding=conv_padding, groups=channels)
    taps = f.shape[0]
    x = F.conv2d(x, f.view(1, 1, 1, taps).expand(channels, 1, 1, taps), stride=(1, down), padding=(0, conv_padding[1]), groups=channels)
    return F.conv2d(x, f.view(1, 1, taps, 1).expand(channels, 1, taps, 1), stride=(down, 1), padding=(conv_padding[0], 0), groups=channels)


def _upsample_filter(x: torch.Tensor, f: torch.Tensor, up: int, padding: tuple[int, int, int, int], flip_filter: bool) -> torch.Tensor:
    """Zero insertion, padding and filtering in one strided transposed convolution (no zeros are multiplied).

    conv_transpose2d(x, f, stride=up) is the full convolution of the zero-stuffed image with f; its
    pixel K-1-p0 is the first output pixel of upfirdn2d with left padding p0, so a pad/crop aligns the two.
    """
    channels = int(x.shape[1])  # a constant in traced graphs: ONNX needs static kernel shapes
    px0, px1, py0, py1 = padding
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    if f.ndim == 2:
        x = F.conv_transpose2d(x, f[None, None].expand(channels, 1, *f.shape), stride=up, groups=channels)
    else:
        taps = f.shape[0]
        x = F.conv_transpose2d(x, f.view(1, 1, 1, taps).expand(channels, 1, 1, taps), stride=(1, up), groups=channels)
        x = F.conv_transpose2d(x, f.view(1, 1, taps, 1).expand(channels, 1, taps, 1), stride=(up, 1), groups=channels)
    fw, fh = filter_size(f)
    return F.pad(x, [px0 - (fw - 1), px1 + up - fw, py0 - (fh - 1), py1 + up - fh])


def filter2d(x: torch.Tensor, f: torch.Tensor, padding: Padding = 0, gain: float = 1.0) -> torch.Tensor:
    """Filter with `f`, padded so that the output has the input's size (plus `padding`)."""
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(f)
    pad = [px0 + fw // 2, px1 + (fw - 1) // 2, py0 + fh // 2, py1 + (fh - 1) // 2]
    return upfirdn2d(x, f, padding=pad, gain=gain)


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2, padding: Padding = 0, gain: float = 1.0) -> torch.Tensor:
    """Upsample by `up` with filter `f`; output is `up` times the input size (plus `padding`)."""
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(f)
    pad = [
        px0 + (fw + up - 1) // 2,
        px1 + (fw - up) // 2,
        py0 + (fh + up - 1) // 2,
        py1 + (fh - up) // 2,
    ]
    return upfirdn2d(x, f, up=up, padding=pad, gain=gain * up * up)


def downsample2d(x: torch.Tensor, f: torch.Tensor, down: int = 2, padding: Padding = 0, gain: float = 1.0) -> torch.Tensor:
    """Downsample by `down` with filter `f`; output is the input size over `down` (plus `padding`)."""
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(f)
    pad = [
        px0 + (fw - down + 1) // 2,
        px1 + (fw - down) // 2,
        py0 + (fh - down + 1) // 2,
        py1 + (fh - down) // 2,
    ]
    return upfirdn2d(x, f, down=down, padding=pad, gain=gain)
