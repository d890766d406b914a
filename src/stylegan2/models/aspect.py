"""Image sizes a network can have: a power-of-two resolution up to MAX_RESOLUTION, square or twice as
wide or tall (a 4x8 or 8x4 learned constant).

An aspect is written width:height ("2:1" is landscape, e.g. 256x128). The network's `img_resolution`
is its shorter side: its blocks count 4, 8, ..., img_resolution along that side as a square
network's do, and the longer side is that times the aspect. Strings keep the value the same after a
round trip through a checkpoint's JSON.
"""

from __future__ import annotations

from .inputs import is_whole_number

MAX_RESOLUTION = 1024  # the largest img_resolution (shorter side) the networks are built for, as in NVIDIA's configs
SQUARE = "1:1"
# width:height -> (height, width) as multiples of the shorter side
ASPECTS = {SQUARE: (1, 1), "2:1": (1, 2), "1:2": (2, 1)}


def is_image_side(value: object, maximum: int | None = MAX_RESOLUTION) -> bool:
    """Whether `value` is an image side a network makes: a whole power of two from 4 (blocks start at 4x4 and double)
    up to `maximum` (None: any)."""
    return (is_whole_number(value) and value >= 4 and value & (value - 1) == 0
            and (maximum is None or value <= maximum))


def check_img_resolution(img_resolution: int) -> None:
    """ValueError unless `img_resolution` is a power of two from 4 to MAX_RESOLUTION (see `is_image_side`)."""
    if not is_image_side(img_resolution):
        raise ValueError(f"img_resolution must be a power of two from 4 to {MAX_RESOLUTION}, got {img_resolution!r}")


def aspect_factors(aspect: str) -> tuple[int, int]:
    """(height, width) multiples of the shorter side for an aspect; ValueError names the ones supported."""
    if aspect not in ASPECTS:
        raise ValueError(f"img_aspect must be one of {', '.join(ASPECTS)} (width:height), got {aspect!r}")
    return ASPECTS[aspect]


def image_size(resolution: int, aspect: str) -> tuple[int, int]:
    """(height, width) of images whose shorter side is `resolution`."""
    h, w = aspect_factors(aspect)
    return resolution * h, resolution * w


def aspect_of(height: int, width: int) -> str | None:
    """The aspect of a height x width image, or None when it is none of ASPECTS."""
    for aspect, (h, w) in ASPECTS.items():
        if height * w == width * h:
            return aspect
    return None


def aspect_kwargs(aspect: str) -> dict[str, str]:
    """{"img_aspect": aspect} for a non-square network's synthesis or epilogue kwargs; {} for a square one,
    whose arguments then stay exactly NVIDIA's."""
    aspect_factors(aspect)
    return {} if aspect == SQUARE else {"img_aspect": aspect}
