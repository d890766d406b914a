"""Low-level ops and layers: resampling, bias+activation, equalized-lr and modulated convolutions."""

from .bias_act import bias_act
from .conv2d_resample import conv2d_resample
from .layers import Conv2dLayer, FullyConnectedLayer, MinibatchStdLayer, normalize_2nd_moment
from .modulated_conv import modulated_conv2d
from .reflect_conv import ReflectConv2dLayer
from .upfirdn2d import downsample2d, filter2d, setup_filter, upfirdn2d, upsample2d

__all__ = [
    "Conv2dLayer",
    "FullyConnectedLayer",
    "MinibatchStdLayer",
    "ReflectConv2dLayer",
    "bias_act",
    "conv2d_resample",
    "downsample2d",
    "filter2d",
    "modulated_conv2d",
    "normalize_2nd_moment",
    "setup_filter",
    "upfirdn2d",
    "upsample2d",
]
