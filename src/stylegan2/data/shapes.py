"""`builtin:shapes`: a synthetic dataset of coloured shapes, random-access and reproducible from (seed, index).

Structure (which shape, where, how big, how rotated) and texture (foreground and background colour) come
from two independent random streams, so a swapping autoencoder can be scored against the true mask and
colours of every item. `ShapesSource` serves the set to training and the dataset tool.
"""

from dataclasses import dataclass

import numpy as np

from .errors import DatasetOptionError
from .image_source import ImageSource

SHAPE_CLASSES = ("circle", "square", "triangle", "star", "cross")
"""The classes of `builtin:shapes`, in label order."""

_MIN_COLOR_DISTANCE = 96.0  # Euclidean RGB distance that keeps the shape visible against its background


@dataclass(frozen=True)
class ShapeSample:
    """One rendered item: the image and the ground truth it was painted from."""

    image: np.ndarray  # uint8 [3, H, W]
    label: int  # index into SHAPE_CLASSES
    mask: np.ndarray  # bool [H, W], True on the shape
    fg_color: np.ndarray  # uint8 [3]
    bg_color: np.ndarray  # uint8 [3]


def shape_label(index: int) -> int:
    """Class of item `index`: classes cycle so every class is equally frequent and labels need no rendering."""
    return index % len(SHAPE_CLASSES)


def _inside(kind: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Mask of points (u, v), in the shape's own frame with circumradius 1, that lie inside the shape."""
    if kind == "circle":
        return u * u + v * v <= 0.8
    if kind == "cross":
        arm = 0.3
        return ((np.abs(u) <= arm) & (np.abs(v) <= 1.0)) | ((np.abs(v) <= arm) & (np.abs(u) <= 1.0))
    if kind in ("square", "triangle"):
        sides = 4 if kind == "square" else 3
        angles = (2 * np.arange(sides) + 1) * np.pi / sides  # outward normals of a regular polygon
        inside = np.ones(u.shape, dtype=bool)
        for angle in angles:
            inside &= u * np.cos(angle) + v * np.sin(angle) <= np.cos(np.pi / sides)
        return inside
    # Five-pointed star: fold the angle into one half-spike, then test against the edge from the
    # inner vertex (inner, 0) to the outer vertex (cos a, sin a), a = pi/5.
    inner, half = 0.45, np.pi / 5
    radius, angle = np.hypot(u, v), np.arctan2(v, u)
    folded = np.abs(np.mod(angle, 2 * half) - half)  # 0 at an inner vertex, `half` at an outer one
    x, y = radius * np.cos(folded), radius * np.sin(folded)
    return (x - inner) * np.sin(half) + y * (inner - np.cos(half)) <= 0


def _colors(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A background and a foreground colour far enough apart to see the shape."""
    while True:
        bg, fg = rng.integers(0, 256, size=(2, 3))
        if np.linalg.norm(fg - bg) >= _MIN_COLOR_DISTANCE:
            return fg.astype(np.uint8), bg.astype(np.uint8)


@dataclass(frozen=True)
class ShapeGeometry:
    """Where item `index` is drawn, in pixels of its resolution: centre, circumradius and rotation."""

    cx: float
    cy: float
    radius: float
    rotation: float  # radians; 0 draws the shape upright


def shape_geometry(index: int, resolution: int, seed: int = 0, *, rotate: bool = True) -> ShapeGeometry:
    """Structure of item `index` as numbers: random centre, size and rotation (its class is `shape_label`).

    `rotate=False` keeps the centre and size and draws the shape unrotated (a diagnostic variant:
    experiments/shapes_variants.py); builtin:shapes always rotates.
    """
    rng = np.random.default_rng([seed, index, 0])
    radius = rng.uniform(0.2, 0.4) * resolution
    cx, cy = rng.uniform(radius, resolution - radius, size=2)
    rotation = rng.uniform(0, 2 * np.pi) if rotate else 0.0
    return ShapeGeometry(float(cx), float(cy), float(radius), float(rotation))


def shape_mask(index: int, resolution: int, seed: int = 0, *, rotate: bool = True) -> np.ndarray:
    """Structure of item `index`: bool [H, W] mask of its shape, drawn where `shape_geometry` says."""
    g = shape_geometry(index, resolution, seed, rotate=rotate)
    coords = np.arange(resolution) + 0.5  # pixel centres
    dx, dy = (coords[None, :] - g.cx) / g.radius, (coords[:, None] - g.cy) / g.radius  # [1, W], [H, 1]
    cos, sin = np.cos(g.rotation), np.sin(g.rotation)
    u, v = cos * dx + sin * dy, cos * dy - sin * dx  # [H, W] in the shape's frame
    return _inside(SHAPE_CLASSES[shape_label(index)], u, v)


def shape_colors(index: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Texture of item `index`: (foreground, background) uint8 [3] colours, independent of its structure."""
    return _colors(np.random.default_rng([seed, index, 1]))


def paint(mask: np.ndarray, fg_color: np.ndarray, bg_color: np.ndarray) -> np.ndarray:
    """Image uint8 [3, H, W] with `fg_color` on the mask and `bg_color` elsewhere (also for swapped pairs)."""
    fg, bg = np.asarray(fg_color, np.uint8)[:, None, None], np.asarray(bg_color, np.uint8)[:, None, None]
    return np.where(mask[None], fg, bg)  # [3, H, W]


def render_shape(index: int, resolution: int = 32, seed: int = 0) -> ShapeSample:
    """Render item `index` of `builtin:shapes` with the given seed at the given resolution."""
    if index < 0:
        raise ValueError(f"shape index must be >= 0, got {index}")
    mask = shape_mask(index, resolution, seed)
    fg_color, bg_color = shape_colors(index, seed)
    return ShapeSample(paint(mask, fg_color, bg_color), shape_label(index), mask, fg_color, bg_color)


SHAPES_SIZE = 10_000  # items in builtin:shapes unless its n says otherwise
SHAPES_CACHE_BYTES = 256 * 2**20  # builtin:shapes keeps its renders in memory up to this size (the default set: 30 MB)


class ShapesSource(ImageSource):
    """`builtin:shapes`: `size` coloured shapes rendered on demand at `resolution`, labelled by shape class.

    Each render is kept (read-only) once made, when all of them fit in SHAPES_CACHE_BYTES: a training
    run draws every item many times, and rendering one costs more than copying it.
    """

    num_classes = len(SHAPE_CLASSES)

    def __init__(self, *, size: int = SHAPES_SIZE, seed: int = 0, resolution: int = 32):
        if size < 1:
            raise DatasetOptionError(f"builtin:shapes: n must be >= 1, got {size}")
        self.size, self.seed, self.resolution = size, seed, resolution
        self.name = "shapes"
        self.location = f"builtin:shapes?n={size}&seed={seed}"
        fits = size * resolution * resolution * 3 <= SHAPES_CACHE_BYTES
        self._renders = np.empty((size, resolution, resolution, 3), np.uint8) if fits else None  # pages fill as used
        self._rendered = np.zeros(size, bool)

    def __getstate__(self) -> dict:
        """Pickled (to data-loader workers) without the renders: each process renders its own."""
        return {"size": self.size, "seed": self.seed, "resolution": self.resolution}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def __len__(self) -> int:
        return self.size

    def describe(self, index: int) -> str:
        return f"{self.location}[{index}]"

    def load(self, index: int, *, drop_alpha: bool = False) -> np.ndarray:
        if not 0 <= index < self.size:
            raise IndexError(f"shape index {index} out of range for {self.size} items")
        if self._renders is None:
            return render_shape(index, self.resolution, self.seed).image.transpose(1, 2, 0)  # [H, W, 3]
        if not self._rendered[index]:
            self._renders[index] = render_shape(index, self.resolution, self.seed).image.transpose(1, 2, 0)
            self._rendered[index] = True
        image = self._renders[index]
        image.flags.writeable = False  # a view of the cache: nobody may paint over a render
        return image

    def has_color(self) -> bool:
        return True

    def validate(self, *, skip_bad: bool = False) -> tuple[int, int, int]:
        return self.resolution, self.resolution, 3

    def labels(self, *, required: bool, skip_bad: bool = False) -> np.ndarray:
        return np.array([shape_label(i) for i in range(self.size)], dtype=np.int64)
