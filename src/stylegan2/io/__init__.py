"""Checkpoints: our safetensors + JSON format, and safe importers for NVIDIA and rosinality files."""

from .checkpoint import Checkpoint
from .errors import CheckpointError, UnsafeCheckpointError
from .info import checkpoint_info, convert_checkpoint, describe_checkpoint, format_info
from .loading import load_checkpoint, load_network
from .native import save_checkpoint, save_network
from .rosinality import estimate_w_avg

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "UnsafeCheckpointError",
    "checkpoint_info",
    "convert_checkpoint",
    "describe_checkpoint",
    "estimate_w_avg",
    "format_info",
    "load_checkpoint",
    "load_network",
    "save_checkpoint",
    "save_network",
]
