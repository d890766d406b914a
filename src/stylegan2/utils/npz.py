"""`.npz` files from strangers: what each array declares is checked before NumPy allocates it, and no pickled
object is ever loaded."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Collection

import numpy as np

from .files import ArchiveError, check_zip_entry


def check_npz(path: str | os.PathLike, keys: Collection[str] | None = None) -> None:
    """Refuse (ArchiveError) arrays of an .npz that could not be read within bounds: unreadable or encrypted entries,
    compression beyond MAX_ZIP_RATIO, and .npy headers whose shape x item size exceed the bytes their entry holds.
    `keys`: check only those arrays (the others are never read)."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy") or (keys is not None and info.filename[:-4] not in keys):
                continue
            check_zip_entry(info, str(path))
            with archive.open(info) as file:
                try:
                    version = np.lib.format.read_magic(file)
                    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                    shape, _, dtype = read_header(file)
                except (ValueError, OSError) as err:
                    raise ArchiveError(f"{path}/{info.filename}: not a valid .npy header ({err})") from None
                declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if declared > info.file_size - file.tell():
                    raise ArchiveError(f"{path}/{info.filename}: its header declares {declared:,} bytes but the entry "
                                       f"holds {info.file_size - file.tell():,}; the file is corrupt or crafted")


def load_npz(path: str | os.PathLike, keys: Collection[str]) -> dict[str, np.ndarray]:
    """The arrays named `keys` that an .npz holds (others are not read), each checked by `check_npz` first; an array
    of pickled objects raises NumPy's ValueError about allow_pickle."""
    check_npz(path, keys)
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in keys if key in npz.files}
