"""Uploaded images, decoded with the dataset tool's checks and fitted to a network's size and channels."""

from __future__ import annotations

import io

import numpy as np
import PIL.Image

from ..data.errors import DatasetError
from ..data.images import ALPHA_DROPPED, DECODE_ERRORS, has_alpha, image_channels, open_image, to_array
from ..data.tool import fit_image
from .settings import SettingsError

DEFAULT_MAX_UPLOAD_MB = 8.0  # request body limit of the server (--max-upload-mb)
MAX_UPLOAD_PIXELS = 64 * 1024 * 1024  # refused from the header, before decoding (a decompression bomb)


def too_large(where: str, size: str) -> SettingsError:
    """The message for an image over MAX_UPLOAD_PIXELS, uploaded or in the --images folder."""
    return SettingsError(f"{where}: {size} pixels is too large; the explorer takes images of at most "
                         f"{MAX_UPLOAD_PIXELS:,} pixels")


def fit_note(width: int, height: int, resolution: int) -> str:
    """What fitting a width x height image to the network changed beyond a plain downscale ('' if nothing),
    as `stylegan2 swapae swap` notes it: a crop to the centred square, or an enlargement (blurry)."""
    side = min(width, height)
    changes = []
    if width != height:
        changes.append(f"center-cropped to {side}x{side}")
    if side < resolution:
        changes.append(f"enlarged to the network's {resolution}x{resolution}")
    return f"{width}x{height} image {' and '.join(changes)}" if changes else ""


def decode_upload(data: bytes, name: str, resolution: int, channels: int,
                  where: str | None = None) -> tuple[np.ndarray, str]:
    """uint8 [resolution, resolution, channels] from an image file's bytes: center-cropped, Lanczos-resized, alpha
    dropped; and a note saying when it was cropped or enlarged (see `fit_note`) or had transparency ('' otherwise).

    `where` names the image in errors (default: "upload 'NAME'")."""
    where = where or f"upload {name!r}"
    try:
        with open_image(io.BytesIO(data)) as img:  # the formats datasets are read in; the size checked here
            if img.width * img.height > MAX_UPLOAD_PIXELS:
                raise too_large(where, f"{img.width}x{img.height}")
            target = "L" if image_channels(img, where, drop_alpha=True) == 1 else "RGB"
            transparent = has_alpha(img)
            array = np.array(to_array(img, where, target))  # writable, for torch; a portrait shot upright
    except (SettingsError, DatasetError):
        raise  # the size and mode checks name the upload already
    except DECODE_ERRORS as err:
        if isinstance(err, PIL.UnidentifiedImageError):
            raise SettingsError(f"{where}: cannot decode as an image (not a known image format); use a PNG, JPEG or "
                                "WebP file") from None
        raise SettingsError(f"{where}: cannot decode as an image ({err}); the file is damaged or cut short: save or "
                            "copy it again") from None
    note = "; ".join(filter(None, [fit_note(array.shape[1], array.shape[0], resolution),
                                   ALPHA_DROPPED if transparent else ""]))
    image = fit_image(array.reshape(array.shape[0], array.shape[1], -1), resolution, resolution, "center-crop",
                      PIL.Image.Resampling.LANCZOS)
    if image.shape[2] != channels:  # gray -> RGB repeats the channel; RGB -> gray uses PIL's luma
        image = np.repeat(image, 3, axis=2) if channels == 3 else np.asarray(PIL.Image.fromarray(image).convert("L"))[..., None]
    return image, note
