"""2-D convolution fused with FIR up- or down-sampling (the resampling conv of StyleGAN2).

Up-sampling runs as a stride-2 transposed convolution followed by the low-pass filter;
down-sampling as the low-pass filter followed by a stride-2 convolution. Both are cheaper
than resampling the full-size activations and then convolving, and give the same result.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .upfirdn2d import Padding, filter_size, parse_padding, upfirdn2d


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    groups: int = 1,
) -> torch.Tensor:
    """Correlate x [N, C, H, W] with w [O, C/groups, k, k], upsampling or downsampling with `f`.

    `padding` is relative to the up-sampled image, as in the official op; the filter pads are
    added here so that the output is exactly `up` times larger or `down` times smaller.
    With up > 1 the weight acts as a true convolution (flipped kernel), which is what the official
    up-sampling layers compute, so pretrained weights transfer unchanged.
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

    if down > 1:
        if kw == 1 and kh == 1:  # 1x1: downsample first, then the (cheaper) small conv
            x = upfirdn2d(x, f, down=down, padding=[px0, px1, py0, py1])
            return F.conv2d(x, w, groups=groups)
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
        pxt, pyt = max(min(-px0, -px1), 0), max(min(-py0, -py1), 0)
        x = F.conv_transpose2d(x, w, stride=up, padding=[pyt, pxt], groups=groups)
        return upfirdn2d(x, f, padding=[px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt], gain=up * up)

    if px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0:
        return F.conv2d(x, w, padding=[py0, px0], groups=groups)
    x = upfirdn2d(x, None, padding=[px0, px1, py0, py1])
    return F.conv2d(x, w, groups=groups)
