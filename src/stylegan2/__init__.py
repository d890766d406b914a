"""StyleGAN2 in PyTorch: NVIDIA-faithful networks, safe checkpoints, training and tools."""

__version__ = "0.1.0"
