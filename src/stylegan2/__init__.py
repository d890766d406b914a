"""StyleGAN2 in PyTorch: NVIDIA-faithful networks, safe checkpoints, training and tools."""

__version__ = "0.1.0"

from .io import load_checkpoint, load_network, save_checkpoint, save_network  # noqa: E402

__all__ = ["load_checkpoint", "load_network", "save_checkpoint", "save_network"]
