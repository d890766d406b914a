"""Decoding image files into uint8 arrays, and the size rules every dataset image must follow."""

import contextlib
import functools
import io
import os
import struct
import threading
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import numpy as np
import PIL.Image

from ..models.aspect import MAX_RESOLUTION, is_image_side
from ..utils.text import word_list
from .errors import DatasetError, DatasetOptionError, limit_from_environment, skip_bad_advice

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".gif", ".bmp", ".tif", ".tiff")
IMAGE_FORMATS = "PNG, JPEG, WebP, GIF, BMP or TIFF"  # what IMAGE_EXTENSIONS name, for messages
# The Pillow decoders those are (JPEG's also opens a phone's MPO); no other is tried, whatever a file's
# bytes look like: Pillow's EPS reader, for one, hands the file to Ghostscript.
PIL_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
# Photo formats that are not read (HEIC/HEIF, AVIF, camera raw): files with these extensions are counted in a note.
UNREAD_EXTENSIONS = (".heic", ".heif", ".avif", ".cr2", ".cr3", ".nef", ".dng", ".arw", ".orf", ".rw2", ".raf")
# Raised whenever a file's decoded pixels change for the same bytes (orientation, bit-depth scaling, ...): statistics
# cached under a dataset's file identity (ImageDataset.file_identity) are then computed again.
DECODE_VERSION = 2
MAX_IMAGE_PIXELS = 2**26  # width x height of one source image (8192 x 8192); checked from the header, before decoding
MAX_IMAGE_PIXELS_VARIABLE = "STYLEGAN2_MAX_IMAGE_PIXELS"  # raises it, for trusted large photos (a 100 MP camera's)
_PILLOW_LIMIT_LOCK = threading.RLock()

SIXTEEN_BIT_GRAY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # "I": how Pillow 9 opens 16-bit PNGs
_GRAY_MODES = {"1", "L", *SIXTEEN_BIT_GRAY_MODES}
_COLOR_MODES = {"RGB", "P", "CMYK", "YCbCr", "LAB", "HSV"}
_ALPHA_MODES = {"LA": 1, "La": 1, "PA": 3, "RGBA": 3, "RGBa": 3}
ALPHA_DROPPED = "alpha dropped: transparent pixels keep their stored colour"  # what tools note when they flatten an image
_EXIF_ORIENTATION = 0x0112
_T = PIL.Image.Transpose
_UPRIGHT = {2: _T.FLIP_LEFT_RIGHT, 3: _T.ROTATE_180, 4: _T.FLIP_TOP_BOTTOM, 5: _T.TRANSPOSE, 6: _T.ROTATE_270,
            7: _T.TRANSVERSE, 8: _T.ROTATE_90}  # EXIF Orientation -> the turn that shows the image upright

# Why skip_bad left an image file out, as its note groups them after a count ("3 unreadable (damaged, ...): a.png, ...").
DAMAGED = "unreadable (damaged, or not an image)"
OVER_PIXEL_LIMIT = f"over the pixel limit (${MAX_IMAGE_PIXELS_VARIABLE} raises it)"
TRANSPARENT = "with an alpha channel or a transparent colour (convert with `stylegan2 dataset`, which flattens them)"
PIXEL_FORMAT = "of a pixel format not read, floating-point or 32-bit (save them as 8- or 16-bit)"


class ImageFileError(DatasetError):
    """One image file that cannot be used as it is, which skip_bad leaves out; `reason` (DAMAGED, ...) says why in a
    few words, so that a note can group the files it left out by what to do about them."""

    def __init__(self, message: str, reason: str = DAMAGED):  # the default: rebuilt from the message alone (pickle)
        super().__init__(message)
        self.reason = reason


# Everything PIL, zlib or zipfile raise for a file that is not a readable image.
DECODE_ERRORS = (
    OSError, SyntaxError, ValueError, EOFError, zlib.error, zipfile.BadZipFile, PIL.Image.DecompressionBombError
)


def _is_visible(name: str) -> bool:
    """Whether a relative path is a user's file, not a hidden or macOS metadata one (`.DS_Store`, `__MACOSX/`)."""
    parts = name.replace("\\", "/").split("/")
    return not any(part.startswith(".") or part == "__MACOSX" for part in parts)


def is_image_name(name: str) -> bool:
    """Whether a file name looks like an image we read (by extension), skipping hidden and macOS metadata files."""
    return _is_visible(name) and name.lower().endswith(IMAGE_EXTENSIONS)


def unread_images(names: Iterable[str]) -> str:
    """The files among `names` that are photos in a format not read (UNREAD_EXTENSIONS), counted by extension for a
    message ("2 .heic and 1 .cr2 file(s)"), or "" when there are none."""
    counts = Counter(ext for name in names if _is_visible(name)
                     for ext in UNREAD_EXTENSIONS if name.lower().endswith(ext))
    if not counts:
        return ""
    return word_list([f"{count} {ext}" for ext, count in sorted(counts.items())]) + " file(s)"


def is_power_of_two(n: int) -> bool:
    """Whether n is 1, 2, 4, 8, ...: the generator doubles its resolution from 4x4 up."""
    return n > 0 and n & (n - 1) == 0


def check_side(option: str, value: int, maximum: int | None = MAX_RESOLUTION) -> None:
    """Refuse an image side no network makes: a power of two from 4 (the first block) up to `maximum` (None: any)."""
    if not is_image_side(value, maximum):
        allowed = ">= 4" if maximum is None else f"from 4 to {maximum} (the networks' largest)"
        raise DatasetOptionError(f"{option} must be a power of two {allowed}, got {value!r}")


def max_image_pixels() -> int:
    """The most pixels one source image may have: $STYLEGAN2_MAX_IMAGE_PIXELS or MAX_IMAGE_PIXELS."""
    return limit_from_environment(MAX_IMAGE_PIXELS_VARIABLE, MAX_IMAGE_PIXELS, "a whole number of pixels")


@contextlib.contextmanager
def open_image(file: BinaryIO | str | os.PathLike) -> Iterator[PIL.Image.Image]:
    """PIL.Image.open without Pillow's decompression-bomb check: the caller checks `check_size` itself, once, in
    words about the file (Pillow's warning names none and came twice per image; its error, at twice its own limit,
    refused photos that a raised $STYLEGAN2_MAX_IMAGE_PIXELS accepts)."""
    with _pillow_limit_lifted():
        img = PIL.Image.open(file, formats=PIL_FORMATS)  # the header only: Pillow checks the size here
    # Some readers (TIFF, GIF frames) check again while decoding: an image over Pillow's own limit, which only a raised
    # $STYLEGAN2_MAX_IMAGE_PIXELS lets through, is decoded with it lifted too (the lock then holds while it decodes).
    limit = PIL.Image.MAX_IMAGE_PIXELS
    over = limit is not None and img.width * img.height > limit
    with _pillow_limit_lifted() if over else contextlib.nullcontext(), warnings.catch_warnings(), img:
        warnings.simplefilter("ignore", PIL.Image.DecompressionBombWarning)
        yield img


@contextlib.contextmanager
def _pillow_limit_lifted() -> Iterator[None]:
    """Pillow's MAX_IMAGE_PIXELS (a module global) set to None meanwhile; the lock keeps concurrent users from
    losing its value."""
    with _PILLOW_LIMIT_LOCK:
        saved, PIL.Image.MAX_IMAGE_PIXELS = PIL.Image.MAX_IMAGE_PIXELS, None
        try:
            yield
        finally:
            PIL.Image.MAX_IMAGE_PIXELS = saved


def image_channels(img: PIL.Image.Image, where: str, *, drop_alpha: bool) -> int:
    """Number of channels (1 or 3) an image is read with; transparency (an alpha channel, or a palette entry or
    colour marked transparent) is refused unless dropped, since the colour under it is arbitrary."""
    mode = img.mode
    if mode in _ALPHA_MODES:
        transparency, channels = f"an alpha channel (mode {mode})", _ALPHA_MODES[mode]
    elif mode in _GRAY_MODES or mode in _COLOR_MODES:
        channels = 1 if mode in _GRAY_MODES else 3
        marked = "a palette entry" if mode == "P" else "a colour"
        transparency = f"transparency ({marked} marked transparent)" if "transparency" in img.info else ""
    else:
        raise ImageFileError(
            f"{where}: unsupported image mode {mode} (e.g. floating-point); save it as 8- or 16-bit grayscale or RGB",
            PIXEL_FORMAT,
        )
    if transparency and not drop_alpha:
        raise ImageFileError(
            f"{where}: image has {transparency}; flatten it, or convert the dataset with `stylegan2 dataset`, "
            "which drops alpha", TRANSPARENT,
        )
    return channels


def has_alpha(img: PIL.Image.Image) -> bool:
    """Whether some pixel of an image is transparent: its alpha channel holds a value below opaque, or a pixel uses
    a palette entry or colour marked transparent. This decodes the pixels.

    Tools note "alpha dropped" only then: many screenshots are RGBA with every pixel opaque, and flattening those
    changes nothing."""
    if img.mode in _ALPHA_MODES:
        lowest = img.getchannel(len(img.getbands()) - 1).getextrema()[0]  # the alpha band is the last one
        return lowest < 255
    if "transparency" not in img.info:
        return False
    key = img.info["transparency"]
    if img.mode == "P":
        return _palette_transparency_used(img, key)
    return _colour_key_used(np.asarray(img), key)


def _palette_transparency_used(img: PIL.Image.Image, key: int | bytes) -> bool:
    """Whether a palette image uses an entry marked transparent: entry `key` (an index), or, when `key` is bytes
    (a PNG's alpha per entry), an entry whose alpha is below opaque."""
    counts = img.histogram()  # pixels per palette index
    if isinstance(key, int):
        return 0 <= key < len(counts) and counts[key] > 0
    return any(alpha < 255 and counts[index] > 0 for index, alpha in enumerate(key[:len(counts)]))


def _colour_key_used(pixels: np.ndarray, key: int | tuple[int, ...]) -> bool:
    """Whether some pixel [H, W] or [H, W, C] equals the colour marked transparent (a gray value or an RGB tuple)."""
    if pixels.ndim == 2:
        return bool((pixels == key).any())
    colour = np.asarray(key)[: pixels.shape[2]]
    return bool((pixels == colour).all(axis=2).any())


def to_8bit(img: PIL.Image.Image, where: str, *, from_png: bool = False) -> PIL.Image.Image:
    """16-bit grayscale as 8-bit "L", scaled (65535 -> 255) where PIL's convert would clip everything above 255 to
    white, as PIL reads 16-bit colour PNGs as 8-bit RGB; other modes unchanged. A 32-bit integer image (mode "I",
    which has no fixed range) whose values all lie in 0..255 is taken as it is, not scaled to black; `from_png`:
    the image was read from a PNG, which holds no 32-bit integers, so mode "I" is Pillow 9's 16-bit grayscale."""
    if img.mode not in SIXTEEN_BIT_GRAY_MODES:
        return img
    values = np.asarray(img)
    if values.min() < 0 or values.max() > 65535:
        raise ImageFileError(f"{where}: 32-bit integer image with values outside 0..65535; save it as 8- or 16-bit",
                             PIXEL_FORMAT)
    if img.mode == "I" and not from_png and values.max() <= 255:
        return PIL.Image.fromarray(values.astype(np.uint8), "L")
    return PIL.Image.fromarray(np.rint(values / 257).astype(np.uint8), "L")


def to_array(img: PIL.Image.Image, where: str, target: str) -> np.ndarray:
    """The image's pixels as a uint8 [H, W] or [H, W, 3] array in PIL mode `target` ("L" or "RGB"),
    upright as its EXIF Orientation says; 16-bit grayscale scaled to 8 bits, any transparency dropped."""
    turned = to_8bit(upright(img), where, from_png=img.format == "PNG")
    with warnings.catch_warnings():  # PIL's advice to convert a transparent palette image to RGBA: we drop alpha
        warnings.filterwarnings("ignore", "Palette images with Transparency", UserWarning)
        return np.asarray(turned if turned.mode == target else turned.convert(target))


def read_header(file: BinaryIO, where: str, *, full: bool = False, drop_alpha: bool = False) -> tuple[int, int, int]:
    """(height, width, channels) from an image file's header only, or after a full decode when `full`.

    The size is the upright one `decode_image` returns: a photo whose EXIF Orientation turns it by 90 degrees has
    its stored width and height swapped.
    """
    try:
        with open_image(file) as img:
            check_size(img, where)
            channels = image_channels(img, where, drop_alpha=drop_alpha)
            turned = _orientation(img) >= 5  # 5 to 8 swap width and height
            if full:
                img.load()
            return (img.width, img.height, channels) if turned else (img.height, img.width, channels)
    except DatasetError:
        raise
    except DECODE_ERRORS as err:
        raise ImageFileError(f"{where}: cannot read image ({_reason(err)}); remove it or {skip_bad_advice()}") from err


def decode_image(file: BinaryIO, where: str, *, drop_alpha: bool = False) -> np.ndarray:
    """Decode an image file to uint8 [H, W, C] with C = 1 (grayscale) or 3 (RGB), upright as its EXIF Orientation
    says (as image viewers show it); the first frame of an animated GIF or WebP; 16-bit scaled to 8 bits."""
    return _decode(file, where, drop_alpha)[0]


def decode_flattened(file: BinaryIO, where: str) -> tuple[np.ndarray, bool]:
    """`decode_image(drop_alpha=True)`, and whether transparency was dropped: some pixel was transparent (see
    `has_alpha`; a fully opaque RGBA image does not count), from the same read."""
    return _decode(file, where, True)


def _decode(file: BinaryIO, where: str, drop_alpha: bool) -> tuple[np.ndarray, bool]:
    try:
        with open_image(file) as img:
            check_size(img, where)
            target = "L" if image_channels(img, where, drop_alpha=drop_alpha) == 1 else "RGB"
            transparent = has_alpha(img)
            array = to_array(img, where, target)
    except DatasetError:
        raise
    except DECODE_ERRORS as err:
        raise ImageFileError(f"{where}: cannot decode image ({_reason(err)}); remove it or {skip_bad_advice()}") from err
    return array.reshape(array.shape[0], array.shape[1], -1), transparent  # [H, W, C]


def upright(img: PIL.Image.Image) -> PIL.Image.Image:
    """The image turned as its EXIF Orientation says, as image viewers show it (a phone stores a portrait shot
    sideways and tags it); the image itself when it is upright or its EXIF cannot be read."""
    orientation = _orientation(img)
    return img if orientation == 1 else img.transpose(_UPRIGHT[orientation])


def _orientation(img: PIL.Image.Image) -> int:
    """The image's EXIF Orientation (1 to 8; 1 is upright) from its header, read before the pixels are decoded.

    EXIF that cannot be parsed, or an invalid value, counts as 1: such a photo is shown as stored. The base
    class's getexif reads only the header; PNG's own decodes the pixels to look for a late EXIF chunk. A TIFF
    counts as 1 where Pillow turns TIFFs upright itself (turning it again would show it upside down).
    """
    if img.format == "TIFF" and _pillow_turns_tiffs():
        return 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's "Corrupt EXIF data" names no file
            value = PIL.Image.Image.getexif(img).get(_EXIF_ORIENTATION, 1)
    except (*DECODE_ERRORS, struct.error):
        return 1
    return value if value in _UPRIGHT else 1


@functools.cache
def _pillow_turns_tiffs() -> bool:
    """Whether this Pillow opens a TIFF upright as its Orientation tag says (size at open, pixels at load), as newer
    versions do; probed once on a 2x1 TIFF tagged as turned by 90 degrees."""
    buffer = io.BytesIO()
    PIL.Image.new("L", (2, 1)).save(buffer, "TIFF", tiffinfo={_EXIF_ORIENTATION: 6})
    buffer.seek(0)
    with PIL.Image.open(buffer) as probe:
        return probe.size == (1, 2)


def _reason(err: Exception) -> str:
    """Why decoding failed, for a message that names the file itself: PIL's 'cannot identify' names only a handle."""
    if isinstance(err, PIL.UnidentifiedImageError):
        return "not a known image format, or a damaged header"
    return str(err) or type(err).__name__


def check_size(img: PIL.Image.Image, where: str, *, advice: str = "") -> None:
    """Refuse images whose header declares more than `max_image_pixels()` pixels (a guard against decompression
    bombs); `advice` ends the message (default: remove the image from the dataset, or skip bad images)."""
    limit = max_image_pixels()
    if img.width * img.height > limit:
        raise ImageFileError(
            f"{where}: image is {img.width}x{img.height}, more than {limit:,} pixels (a guard against decompression "
            f"bombs); raise ${MAX_IMAGE_PIXELS_VARIABLE} if you trust the file, or downscale it"
            f"{advice or ', or remove it or ' + skip_bad_advice()}", OVER_PIXEL_LIMIT,
        )


def pad_center(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pad a uint8 [h, w, C] image with black to [height, width, C], keeping it centred (odd margins go right/bottom)."""
    h, w, channels = image.shape
    top, left = (height - h) // 2, (width - w) // 2
    canvas = np.zeros((height, width, channels), dtype=np.uint8)
    canvas[top : top + h, left : left + w] = image
    return canvas
