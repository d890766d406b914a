"""Datasets and the dataset tool: folders, zips, .npz arrays and builtin synthetic shapes.

`open_dataset` validates a dataset and serves uint8 [C, H, W] images with one-hot labels;
`convert_dataset` writes NVIDIA's zip format; `render_shape` exposes the ground truth of
`builtin:shapes`.
"""

from .dataset import ImageDataset, open_dataset
from .errors import DatasetError
from .image_source import SkippedImage
from .sampler import ClassPackSampler, InfiniteSampler
from .shapes import SHAPE_CLASSES, ShapeSample, paint, render_shape
from .tool import ConvertSummary, convert_dataset

__all__ = [
    "SHAPE_CLASSES",
    "ConvertSummary",
    "DatasetError",
    "ImageDataset",
    "ClassPackSampler",
    "InfiniteSampler",
    "ShapeSample",
    "SkippedImage",
    "convert_dataset",
    "open_dataset",
    "paint",
    "render_shape",
]
