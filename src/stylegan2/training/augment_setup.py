"""Glue between the training options and the augmentation pipeline with its ADA controller."""

from __future__ import annotations

import torch

from .ada import Augmentation, AugmentConfig, build_augmentation
from .config import TrainingOptions


def build_augment(options: TrainingOptions, device: torch.device) -> Augmentation:
    """The augmentation (--aug, --augpipe, --p, --target, --ada-kimg) the loss applies to D's inputs."""
    config = AugmentConfig(mode=options.aug, augpipe=options.augpipe, p=options.p, target=options.target, ada_kimg=options.ada_kimg)
    return build_augmentation(config, device)
