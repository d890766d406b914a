"""The patch co-occurrence discriminator of the Swapping Autoencoder (Park et al. 2020, section 3.2).

It judges whether a patch could come from the same image as a set of reference patches: each patch is
encoded by StyleGAN2 residual blocks down to a 2x2 feature map; the reference features are averaged
over the reference patches (their texture statistics), concatenated with the judged patch's
features, and an MLP gives a logit. Trained on real pairs (two sets of crops of one image) against
crops of a swapped image with reference crops of its texture source, it makes the texture code carry
the patch statistics of an image.
"""

from __future__ import annotations

import torch
from torch import nn

from ..nn.layers import FullyConnectedLayer
from .discriminator import DiscriminatorBlock
from .init_kwargs import records_init_kwargs

MAX_MLP_CHANNELS = 2048  # the paper's MLP width


class CooccurrenceDiscriminator(nn.Module):
    """Dpatch(patches [N, K, C, p, p], reference [N, M, C, p, p]) -> logits [N, K]: is each patch from the reference's image?

    Widths follow StyleGAN2: min(channel_base // res, channel_max) channels at side `res`. The MLP is
    as wide as its input (judged + reference features), at most 2048, unless `mlp_channels` is given.
    The defaults are the paper's for 256 px images: 128 px patches, 32 channels doubling to 384.
    """

    @records_init_kwargs
    def __init__(
        self,
        *,
        img_channels: int,
        patch_size: int = 128,
        channel_base: int = 4096,
        channel_max: int = 384,
        mlp_channels: int | None = None,
    ) -> None:
        super().__init__()
        if patch_size < 4 or patch_size & (patch_size - 1) != 0:
            raise ValueError(f"CooccurrenceDiscriminator: patch_size must be a power of two of at least 4, got {patch_size}")
        if min(img_channels, channel_max) < 1 or channel_base < patch_size or (mlp_channels is not None and mlp_channels < 2):
            raise ValueError(
                f"CooccurrenceDiscriminator: img_channels and channel_max must be >= 1, channel_base >= patch_size ({patch_size}) "
                f"and mlp_channels >= 2; got {img_channels}, {channel_max}, {channel_base} and {mlp_channels}"
            )
        self.img_channels = img_channels
        self.patch_size = patch_size

        def channels(res: int) -> int:
            return min(channel_base // res, channel_max)

        self.block_resolutions = [patch_size >> i for i in range(patch_size.bit_length() - 2)]  # patch_size ... 4
        layer_idx = 0
        for res in self.block_resolutions:
            block = DiscriminatorBlock(
                channels(res) if res < patch_size else 0, channels(res), channels(res // 2), resolution=res,
                img_channels=img_channels, first_layer_idx=layer_idx, architecture="resnet",
            )
            setattr(self, f"b{res}", block)
            layer_idx += block.num_layers
        self.feature_dim = channels(2) * 2 * 2  # the 2x2 map after the last block, flattened
        in_features = 2 * self.feature_dim
        width = min(in_features, MAX_MLP_CHANNELS) if mlp_channels is None else mlp_channels
        self.pairlinear = nn.Sequential(
            FullyConnectedLayer(in_features, width, activation="lrelu"),
            FullyConnectedLayer(width, width, activation="lrelu"),
            FullyConnectedLayer(width, width // 2, activation="lrelu"),
            FullyConnectedLayer(width // 2, 1),
        )

    def extract_features(self, patches: torch.Tensor) -> torch.Tensor:
        """patches [B, C, p, p] -> features [B, feature_dim]."""
        x, img = None, patches.to(torch.float32)
        for res in self.block_resolutions:
            x, img = getattr(self, f"b{res}")(x, img)
        return x.flatten(1)

    def forward(self, patches: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """Logits [N, K]: patch k of image n judged against the mean features of image n's M reference patches."""
        self._check("patches", patches)
        self._check("reference", reference)
        if reference.shape[0] != patches.shape[0]:
            raise ValueError(f"Dpatch: reference patches for {reference.shape[0]} images, but patches of {patches.shape[0]} images")
        n, k, m = patches.shape[0], patches.shape[1], reference.shape[1]
        features = self.extract_features(torch.cat([patches.flatten(0, 1), reference.flatten(0, 1)]))  # one pass for both
        judged = features[: n * k].reshape(n, k, -1)
        reference_mean = features[n * k :].reshape(n, m, -1).mean(dim=1, keepdim=True)  # [N, 1, F]: the source's statistics
        pairs = torch.cat([reference_mean.expand(-1, k, -1), judged], dim=2)  # [N, K, 2F]
        return self.pairlinear(pairs.flatten(0, 1)).reshape(n, k)

    def _check(self, name: str, x: torch.Tensor) -> None:
        expected = (self.img_channels, self.patch_size, self.patch_size)
        if x.ndim != 5 or tuple(x.shape[2:]) != expected or x.shape[1] < 1:
            raise ValueError(f"Dpatch expects {name} of shape [batch, count, {', '.join(map(str, expected))}], got {list(x.shape)}")
