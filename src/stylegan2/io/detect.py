"""Tell checkpoint formats apart by their first bytes, never by the file name."""

from __future__ import annotations

from pathlib import Path

from .errors import CheckpointError

ZIP_MAGIC = b"PK\x03\x04"  # torch.save (PyTorch >= 1.6) writes a zip archive
LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"  # older torch.save: pickled magic number


def detect_format(path: str | Path) -> str:
    """'safetensors', 'torch' (zip or legacy torch.save) or 'pickle'; a clear error for anything else."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory; give the path of a checkpoint file (.safetensors, .pkl or .pt)")
    if not path.is_file():  # a FIFO or device would block or never end
        raise CheckpointError(f"{path}: not a regular file; give the path of a checkpoint file")
    with open(path, "rb") as f:
        head = f.read(16)
    if not head:
        raise CheckpointError(f"{path}: the file is empty")
    if head.startswith(ZIP_MAGIC) or head.startswith(LEGACY_TORCH_MAGIC):
        return "torch"
    if len(head) >= 9 and head[8:9] == b"{":  # u64 header length, then the JSON header
        return "safetensors"
    if head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    raise CheckpointError(
        f"{path}: unrecognized checkpoint format (expected our .safetensors, an NVIDIA StyleGAN2-ADA "
        "network pickle or a rosinality stylegan2-pytorch checkpoint)"
    )
