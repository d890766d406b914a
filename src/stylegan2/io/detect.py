"""Tell checkpoint formats apart by their first bytes, never by the file name."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath

from ..utils.text import first_names
from .errors import CheckpointError

ZIP_MAGIC = b"PK\x03\x04"  # torch.save (PyTorch >= 1.6) writes a zip archive
LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"  # older torch.save: pickled magic number
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")  # what a dataset zip holds
CHECKPOINT_HINT = "give a network checkpoint (.safetensors, .pkl or .pt)"


def detect_format(path: str | Path) -> str:
    """'safetensors', 'torch' (zip or legacy torch.save) or 'pickle'; a clear error for anything else."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        newest = newest_snapshot(path)
        if newest is not None:
            raise CheckpointError(f"{path}: is a run directory; give one of its snapshots, such as the newest, {newest}")
        raise CheckpointError(f"{path}: is a directory; give the path of a checkpoint file (.safetensors, .pkl or .pt)")
    if not path.is_file():  # a FIFO or device would block or never end
        raise CheckpointError(f"{path}: not a regular file; give the path of a checkpoint file")
    with open(path, "rb") as f:
        head = f.read(16)
    if not head:
        raise CheckpointError(f"{path}: the file is empty")
    if head.startswith(ZIP_MAGIC):
        check_torch_zip(path)
        return "torch"
    if head.startswith(LEGACY_TORCH_MAGIC):
        return "torch"
    if len(head) >= 9 and head[8:9] == b"{":  # u64 header length, then the JSON header
        return "safetensors"
    if head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    if len(head) < 9:  # too short to hold even safetensors' header start: the start of a copy, or something else
        raise CheckpointError(f"{path}: only {len(head)} bytes long; truncated, or not a checkpoint file")
    raise CheckpointError(
        f"{path}: unrecognized checkpoint format (expected our .safetensors, an NVIDIA StyleGAN2-ADA "
        "network pickle or a rosinality stylegan2-pytorch checkpoint)"
    )


SNAPSHOT_NAME = r"network-snapshot-(\d+)(?:-(\d{3}))?\.(?:%s)"  # '000012' is 12,000 images, '000012-064' 12,064 (ours)


def snapshot_nimg(name: str, suffixes: tuple[str, ...] = ("safetensors", "pkl")) -> int | None:
    """The images seen that a `network-snapshot-*` file name says (NVIDIA's names are whole kimg), else None."""
    match = re.fullmatch(SNAPSHOT_NAME % "|".join(map(re.escape, suffixes)), name)
    return None if match is None else int(match.group(1)) * 1000 + int(match.group(2) or 0)


def snapshots_in_order(folder: Path, suffixes: tuple[str, ...] = ("safetensors", "pkl")) -> list[Path]:
    """The `network-snapshot-*` files of a run directory (ours or NVIDIA's; `suffixes` says which), fewest images seen
    first (their names do not sort so: '000004-016' comes before '000004' as text)."""
    counts = {}
    for path in folder.glob("network-snapshot-*"):
        if (images := snapshot_nimg(path.name, suffixes)) is not None:
            counts[images] = path
    return [counts[images] for images in sorted(counts)]


def newest_snapshot(folder: Path, suffixes: tuple[str, ...] = ("safetensors", "pkl")) -> Path | None:
    """The `network-snapshot-*` file of a run directory with the most images seen (see snapshots_in_order), or None."""
    found = snapshots_in_order(folder, suffixes)
    return found[-1] if found else None


def is_torchscript_file(path: str | Path) -> bool:
    """TorchScript archives are zip files with a `code/` folder; plain `torch.save` files have none."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return _holds_code(archive.namelist())


def _holds_code(names: list[str]) -> bool:
    return any("/code/" in name for name in names)


def is_torch_save_file(path: str | Path) -> bool:
    """Whether a file is a zip archive that torch.save (or torch.jit.save) wrote: it holds `<name>/data.pkl`."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _holds_pickle(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def _holds_pickle(names: list[str]) -> bool:
    return any(PurePosixPath(name).name == "data.pkl" for name in names)


def check_torch_zip(path: Path) -> None:
    """Refuse a zip archive that is not a torch.save file (those hold `<name>/data.pkl`): an .npz of arrays or a
    dataset zip passed as a network. An unreadable zip passes, for the torch reader to call it truncated."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [name for name in archive.namelist() if not name.endswith("/")]
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    if _holds_code(names):  # a TorchScript program has data.pkl too, and code that loading it would run
        raise CheckpointError(f"{path}: a TorchScript program (as `stylegan2 export --format torchscript` writes), not a "
                              f"network checkpoint; it is not loaded here, since loading it runs its code: give the "
                              f"checkpoint it was made from (.safetensors, .pkl or .pt)")
    if _holds_pickle(names):
        return
    if names and all(name.endswith(".npy") for name in names):
        arrays = first_names([name[:-4] for name in names])
        raise CheckpointError(f"{path}: not a network file; it looks like an .npz of arrays ({arrays}), such as "
                              f"projected_w.npz or directions.npz; {CHECKPOINT_HINT}")
    images = sum(name.lower().endswith(IMAGE_SUFFIXES) for name in names)
    if "dataset.json" in names or (names and images == len(names)):
        held = f"{images} image{'s' if images != 1 else ''}" + (" and dataset.json" if "dataset.json" in names else "")
        raise CheckpointError(f"{path}: not a network file; it looks like a dataset zip ({held}), which goes to "
                              f"--data; {CHECKPOINT_HINT}")
    raise CheckpointError(f"{path}: not a network file; a zip archive without the data.pkl of PyTorch files; {CHECKPOINT_HINT}")
