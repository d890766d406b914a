"""NVIDIA's VGG16 metric network (their `vgg16.pt`) written in PyTorch: 4096-d features for precision
and recall, and LPIPS embeddings for perceptual path length and the projector.

The weights are the 13 convolutions and 3 fully connected layers of VGG16 (ImageNet) plus the five
per-channel LPIPS weights (Zhang et al. 2018); names follow NVIDIA's file (`layers.conv1` ... `layers.fc3`,
`lpips0` ... `lpips4`), so `stylegan2.metrics.convert` copies them across by name. Inputs are float
images in [0, 255], as NVIDIA's network takes them; `return_lpips` gives a vector per image whose squared
distance to another image's vector is their LPIPS distance.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .inception import resize_like_tf

VGG16_RESOLUTION = 224
CONVS_PER_BLOCK = (2, 2, 3, 3, 3)  # a 2x2 max pool ends each block
CHANNELS = (64, 128, 256, 512, 512)  # output channels of each block's convolutions
FEATURE_DIM = 4096
NUM_CLASSES = 1000
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LPIPS_EPS = 1e-10  # added to each feature vector's norm before dividing by it, as LPIPS does


class VGG16Layers(nn.Module):
    """The 13 convolutions and 3 linear layers, named conv1..conv13 and fc1..fc3."""

    def __init__(self, channels: tuple[int, ...], feature_dim: int, num_classes: int) -> None:
        super().__init__()
        in_channels, index = 3, 1
        for num_convs, out_channels in zip(CONVS_PER_BLOCK, channels):
            for _ in range(num_convs):
                self.add_module(f"conv{index}", nn.Conv2d(in_channels, out_channels, 3, padding=1))
                in_channels, index = out_channels, index + 1
        self.fc1 = nn.Linear(channels[-1] * 7 * 7, feature_dim)
        self.fc2 = nn.Linear(feature_dim, feature_dim)
        self.fc3 = nn.Linear(feature_dim, num_classes)


class VGG16LPIPS(nn.Module):
    """VGG16 with LPIPS weights, called as NVIDIA's vgg16.pt is: `net(img, resize_images, return_lpips, return_features)`.

    The sizes default to VGG16's; a conversion reads them from the file.
    """

    def __init__(self, channels: tuple[int, ...] = CHANNELS, feature_dim: int = FEATURE_DIM, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.layers = VGG16Layers(channels, feature_dim, num_classes)
        for i, width in enumerate(channels):  # LPIPS weight of each channel of each block's last activation
            self.register_parameter(f"lpips{i}", nn.Parameter(torch.ones(width, 1, 1)))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255, persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255, persistent=False)

    def block_activations(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Each block's last ReLU output (the LPIPS taps) and the pooled output of the last block."""
        taps, index = [], 1
        for num_convs in CONVS_PER_BLOCK:
            for _ in range(num_convs):
                x = F.relu(getattr(self.layers, f"conv{index}")(x))
                index += 1
            taps.append(x)
            x = F.max_pool2d(x, kernel_size=2)
        return taps, x

    def lpips_embedding(self, taps: list[torch.Tensor]) -> torch.Tensor:
        """[N, D]: unit-normalized activations scaled by sqrt(LPIPS weight / pixels), concatenated."""
        parts = []
        for i, tap in enumerate(taps):
            unit = tap / (tap.square().sum(dim=1, keepdim=True).sqrt() + LPIPS_EPS)
            scale = getattr(self, f"lpips{i}").sqrt() / (tap.shape[2] * tap.shape[3]) ** 0.5
            parts.append((unit * scale).flatten(1))
        return torch.cat(parts, dim=1)

    def forward(self, img: torch.Tensor, resize_images: bool = True, return_lpips: bool = False,
                return_features: bool = False) -> torch.Tensor:
        x = img.to(torch.float32)
        if resize_images:
            x = resize_like_tf(x, VGG16_RESOLUTION)
        taps, x = self.block_activations((x - self.mean) / self.std)
        if return_lpips:
            return self.lpips_embedding(taps)
        x = F.relu(self.layers.fc1(x.flatten(1)))
        x = F.relu(self.layers.fc2(x))
        if return_features:
            return x  # [N, feature_dim]
        return self.layers.fc3(x).softmax(dim=1)
