"""Uploaded images, decoded with the dataset tool's checks and fitted to a network's size and channels."""

from __future__ import annotations

import io

import numpy as np
import PIL.Image

from ..data.errors import DatasetError
from ..data.images import DECODE_ERRORS, mode_channels
from ..data.tool import fit_image
from .settings import SettingsError

DEFAULT_MAX_UPLOAD_MB = 8.0  # request body limit of the server (--max-upload-mb)
MAX_UPLOAD_PIXELS = 64 * 1024 * 1024  # refused from the header, before decoding (a decompression bomb)


def decode_upload(data: bytes, name: str, resolution: int, channels: int, where: str | None = None) -> np.ndarray:
    """uint8 [resolution, resolution, channels] from an image file's bytes: center-cropped, Lanczos-resized, alpha dropped.

    `where` names the image in errors (default: "upload 'NAME'")."""
    where = where or f"upload {name!r}"
    try:
        with PIL.Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_UPLOAD_PIXELS:
                raise SettingsError(f"{where}: {img.width}x{img.height} pixels is too large; "
                                    f"upload at most {MAX_UPLOAD_PIXELS:,} pixels")
            target = "L" if mode_channels(img.mode, where, drop_alpha=True) == 1 else "RGB"
            array = np.array(img if img.mode == target else img.convert(target))  # writable, for torch
    except (SettingsError, DatasetError):
        raise  # the size and mode checks name the upload already
    except DECODE_ERRORS as err:
        reason = "not a known image format" if isinstance(err, PIL.UnidentifiedImageError) else str(err)
        raise SettingsError(f"{where}: cannot decode as an image ({reason}); use a PNG, JPEG or WebP file") from None
    image = fit_image(array.reshape(array.shape[0], array.shape[1], -1), resolution, resolution, "center-crop",
                      PIL.Image.Resampling.LANCZOS, where)
    if image.shape[2] != channels:  # gray -> RGB repeats the channel; RGB -> gray uses PIL's luma
        image = np.repeat(image, 3, axis=2) if channels == 3 else np.asarray(PIL.Image.fromarray(image).convert("L"))[..., None]
    return image
