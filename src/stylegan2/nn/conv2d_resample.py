"""2-D convolution fused with FIR up- or down-sampling (the resampling conv of StyleGAN2).

Up-sampling runs as a stride-2 transposed convolution followed by the low-pass filter;
down-sampling as the low-pass filter followed by a stride-2 convolution. Both are cheaper
than resampling the full-size activations and then convolving, and give the same result.
In fp16 the filter is folded into the convolution's weights instead: one larger strided
(or transposed) convolution on tensor cores, with no depthwise filter pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .upfirdn2d import Padding, filter_size, parse_padding, upfirdn2d

# On tensor cores one 6x6 convolution beat a depthwise 4x4 filter pass plus the 3x3 convolution, despite 4x the
# dense FLOPs; in fp32 it lost (docs/experiments/speed.md, "Folding the filter into the weights").
FOLD_FP16 = True


def fold_filter(w: torch.Tensor, f: torch.Tensor, transposed: bool = False, gain: float = 1.0) -> torch.Tensor:
    """One (kh + fh - 1) x (kw + fw - 1) kernel K doing the work of the filter f and the weights w [O, I, kh, kw].

    Filtering with f, then correlating with w, is correlating with K; with `transposed`, a transposed
    convolution with w, then filtering with f, is a transposed convolution with K. Computed in fp32 or
    better (w's fp16 copy would round twice), returned in w's dtype.
    """
    f2 = f if f.ndim == 2 else torch.outer(f, f)  # a 1-D filter runs along both axes
    fh, fw = f2.shape
    w32 = w.to(torch.promote_types(w.dtype, torch.float32))
    padded = F.pad(w32, [fw - 1, fw - 1, fh - 1, fh - 1]).flatten(0, 1)[:, None]
    f2 = f2.flip(0, 1) if transposed else f2  # upfirdn2d convolves (flips f); correlating the flip cancels it
    k = F.conv2d(padded, f2[None, None].to(padded)) * gain
    return k.view(*w.shape[:2], *k.shape[-2:]).to(w.dtype)


def _padded_conv2d(x: torch.Tensor, w: torch.Tensor, pads: tuple[int, int, int, int], stride: int = 1,
                   groups: int = 1) -> torch.Tensor:
    """conv2d after padding (negative: cropping) x by pads (x0, x1, y0, y1); conv2d's own padding where it can."""
    px0, px1, py0, py1 = pads
    if px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0:
        return F.conv2d(x, w, stride=stride, padding=[py0, px0], groups=groups)
    return F.conv2d(upfirdn2d(x, None, padding=list(pads)), w, stride=stride, groups=groups)


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    groups: int = 1,
    fold: bool | None = None,
) -> torch.Tensor:
    """Correlate x [N, C, H, W] with w [O, C/groups, k, k], upsampling or downsampling with `f`.

    `padding` is relative to the up-sampled image, as in the official op; the filter pads are
    added here so that the output is exactly `up` times larger or `down` times smaller.
    With up > 1 the weight acts as a true convolution (flipped kernel), which is what the official
    up-sampling layers compute, so pretrained weights transfer unchanged. `fold` puts the filter into
    the weights (see fold_filter); None does so for fp16 activations and ungrouped weights.
    """
    if up > 1 and down > 1:
        raise ValueError("conv2d_resample: up- and down-sampling at once is not supported")
    out_channels, in_per_group, kh, kw = w.shape
    fw, fh = filter_size(f)
    px0, px1, py0, py1 = parse_padding(padding)
    if up > 1:
        px0, px1 = px0 + (fw + up - 1) // 2, px1 + (fw - up) // 2
        py0, py1 = py0 + (fh + up - 1) // 2, py1 + (fh - up) // 2
    if down > 1:
        px0, px1 = px0 + (fw - down + 1) // 2, px1 + (fw - down) // 2
        py0, py1 = py0 + (fh - down + 1) // 2, py1 + (fh - down) // 2

    if fold is None:  # not grouped (per-sample, fused-modulation) weights: folding them all would take GBs at once
        fold = FOLD_FP16 and x.dtype == torch.float16 and groups == 1
    fold = fold and f is not None and kw * kh > 1

    if down > 1:
        if kw == 1 and kh == 1:  # 1x1: downsample first, then the (cheaper) small conv
            x = upfirdn2d(x, f, down=down, padding=[px0, px1, py0, py1])
            return F.conv2d(x, w, groups=groups)
        if fold:
            return _padded_conv2d(x, fold_filter(w, f), (px0, px1, py0, py1), stride=down, groups=groups)
        x = upfirdn2d(x, f, padding=[px0, px1, py0, py1])
        return F.conv2d(x, w, stride=down, groups=groups)

    if up > 1:
        if kw == 1 and kh == 1:  # 1x1: convolve first, then upsample fewer channels
            x = F.conv2d(x, w, groups=groups)
            return upfirdn2d(x, f, up=up, padding=[px0, px1, py0, py1], gain=up * up)
        # conv_transpose2d wants [in, out/groups, k, k]; swap the roles within each group.
        w = w.reshape(groups, out_channels // groups, in_per_group, kh, kw).transpose(1, 2)
        w = w.reshape(groups * in_per_group, out_channels // groups, kh, kw)
        px0, px1, py0, py1 = px0 - (kw - 1), px1 - (kw - up), py0 - (kh - 1), py1 - (kh - up)
        if fold:  # the transposed conv's full output, filtered in full, is cropped to the filter's padding
            cx0, cx1, cy0, cy1 = fw - 1 - px0, fw - 1 - px1, fh - 1 - py0, fh - 1 - py1
            w = fold_filter(w, f, transposed=True, gain=up * up)
            if cx0 == cx1 and cy0 == cy1 and cx0 >= 0 and cy0 >= 0:
                return F.conv_transpose2d(x, w, stride=up, padding=[cy0, cx0], groups=groups)
            x = F.conv_transpose2d(x, w, stride=up, groups=groups)
            return upfirdn2d(x, None, padding=[-cx0, -cx1, -cy0, -cy1])
        pxt, pyt = max(min(-px0, -px1), 0), max(min(-py0, -py1), 0)
        x = F.conv_transpose2d(x, w, stride=up, padding=[pyt, pxt], groups=groups)
        return upfirdn2d(x, f, padding=[px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt], gain=up * up)

    return _padded_conv2d(x, w, (px0, px1, py0, py1), groups=groups)
