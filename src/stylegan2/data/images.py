"""Decoding image files into uint8 arrays, and the size rules every dataset image must follow."""

import zipfile
import zlib
from typing import BinaryIO

import numpy as np
import PIL.Image

from ..models.aspect import MAX_RESOLUTION, is_image_side
from .errors import DatasetError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
MAX_IMAGE_PIXELS = 2**26  # width x height of one source image (8192 x 8192); checked from the header, before decoding

_GRAY_MODES = {"1", "L"}
_COLOR_MODES = {"RGB", "P", "CMYK", "YCbCr", "LAB", "HSV"}
_ALPHA_MODES = {"LA": 1, "La": 1, "PA": 3, "RGBA": 3, "RGBa": 3}
_SKIP_FIX = "remove it or pass --skip-bad (skip_bad=True)"

# Everything PIL, zlib or zipfile raise for a file that is not a readable image.
DECODE_ERRORS = (
    OSError, SyntaxError, ValueError, EOFError, zlib.error, zipfile.BadZipFile, PIL.Image.DecompressionBombError
)


def is_image_name(name: str) -> bool:
    """Whether a file name looks like an image we read (by extension), skipping hidden and macOS metadata files."""
    parts = name.replace("\\", "/").split("/")
    if any(part.startswith(".") or part == "__MACOSX" for part in parts):
        return False
    return name.lower().endswith(IMAGE_EXTENSIONS)


def is_power_of_two(n: int) -> bool:
    """Whether n is 1, 2, 4, 8, ...: the generator doubles its resolution from 4x4 up."""
    return n > 0 and n & (n - 1) == 0


def check_side(option: str, value: int, maximum: int | None = MAX_RESOLUTION) -> None:
    """Refuse an image side no network makes: a power of two from 4 (the first block) up to `maximum` (None: any)."""
    if not is_image_side(value, maximum):
        allowed = ">= 4" if maximum is None else f"from 4 to {maximum} (the networks' largest)"
        raise DatasetError(f"{option} must be a power of two {allowed}, got {value!r}")


def mode_channels(mode: str, where: str, *, drop_alpha: bool) -> int:
    """Number of channels (1 or 3) an image of this PIL mode is read with; alpha is refused unless dropped."""
    if mode in _GRAY_MODES:
        return 1
    if mode in _COLOR_MODES:
        return 3
    if mode in _ALPHA_MODES:
        if drop_alpha:
            return _ALPHA_MODES[mode]
        raise DatasetError(
            f"{where}: image has an alpha channel (mode {mode}); flatten it, or convert the dataset with "
            "`stylegan2 dataset`, which drops alpha"
        )
    raise DatasetError(
        f"{where}: unsupported image mode {mode} (e.g. 16-bit or float); save it as 8-bit grayscale or RGB"
    )


def read_header(file: BinaryIO, where: str, *, full: bool = False) -> tuple[int, int, int]:
    """(height, width, channels) from an image file's header only, or after a full decode when `full`."""
    try:
        with PIL.Image.open(file) as img:
            _check_size(img, where)
            if full:
                img.load()
            return img.height, img.width, mode_channels(img.mode, where, drop_alpha=False)
    except DatasetError:
        raise
    except DECODE_ERRORS as err:
        raise DatasetError(f"{where}: cannot read image ({_reason(err)}); {_SKIP_FIX}") from err


def decode_image(file: BinaryIO, where: str, *, drop_alpha: bool = False) -> np.ndarray:
    """Decode an image file to uint8 [H, W, C] with C = 1 (grayscale) or 3 (RGB)."""
    try:
        with PIL.Image.open(file) as img:
            _check_size(img, where)
            target = "L" if mode_channels(img.mode, where, drop_alpha=drop_alpha) == 1 else "RGB"
            array = np.asarray(img if img.mode == target else img.convert(target))
    except DatasetError:
        raise
    except DECODE_ERRORS as err:
        raise DatasetError(f"{where}: cannot decode image ({_reason(err)}); {_SKIP_FIX}") from err
    return array.reshape(array.shape[0], array.shape[1], -1)  # [H, W, C]


def _reason(err: Exception) -> str:
    """Why decoding failed, for a message that names the file itself: PIL's 'cannot identify' names only a handle."""
    if isinstance(err, PIL.UnidentifiedImageError):
        return "not a known image format, or a damaged header"
    return str(err) or type(err).__name__


def _check_size(img: PIL.Image.Image, where: str) -> None:
    """Refuse images whose header declares more than MAX_IMAGE_PIXELS pixels (a decompression bomb)."""
    if img.width * img.height > MAX_IMAGE_PIXELS:
        raise DatasetError(
            f"{where}: image is {img.width}x{img.height}, more than {MAX_IMAGE_PIXELS:,} pixels; "
            f"downscale it first, or {_SKIP_FIX}"
        )


def pad_center(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pad a uint8 [h, w, C] image with black to [height, width, C], keeping it centred (odd margins go right/bottom)."""
    h, w, channels = image.shape
    top, left = (height - h) // 2, (width - w) // 2
    canvas = np.zeros((height, width, channels), dtype=np.uint8)
    canvas[top : top + h, left : left + w] = image
    return canvas
