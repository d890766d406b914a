"""builtin:shapes: deterministic random-access rendering whose masks, labels and colours agree, and its source's kept renders."""

import pickle

import numpy as np
import pytest
from scipy.spatial import ConvexHull

from stylegan2.data import SHAPE_CLASSES, paint, render_shape, shapes
from stylegan2.data.shapes import ShapesSource, shape_geometry, shape_mask


def mask_descriptors(mask: np.ndarray) -> tuple[float, float]:
    """Rotation-invariant (area / max radius^2, area / convex hull area) of a mask, in pixel units."""
    ys, xs = np.nonzero(mask)
    points = np.stack([xs, ys], 1) + 0.5
    centre = points.mean(0)
    corners = (points[:, None] + np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])).reshape(-1, 2)
    r_max = np.linalg.norm(corners - centre, axis=1).max()
    return len(points) / r_max**2, len(points) / ConvexHull(corners).volume


def test_same_seed_and_index_render_the_same_item():
    a, b = render_shape(17, 32, seed=5), render_shape(17, 32, seed=5)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert a.label == b.label


def test_different_seeds_render_different_items():
    assert not np.array_equal(render_shape(3, 32, seed=0).image, render_shape(3, 32, seed=1).image)


def test_sample_types_and_shapes():
    sample = render_shape(0, 16)
    assert sample.image.shape == (3, 16, 16) and sample.image.dtype == np.uint8
    assert sample.mask.shape == (16, 16) and sample.mask.dtype == bool
    assert sample.fg_color.shape == (3,) and sample.bg_color.shape == (3,)
    assert isinstance(sample.label, int)


def test_image_is_the_mask_painted_with_the_two_colours():
    for index in range(10):
        sample = render_shape(index, 32, seed=2)
        pixels = sample.image.reshape(3, -1).T  # [H * W, 3]
        mask = sample.mask.reshape(-1)
        assert (pixels[mask] == sample.fg_color).all() and (pixels[~mask] == sample.bg_color).all()
        assert mask.any() and not mask.all()
        np.testing.assert_array_equal(paint(sample.mask, sample.fg_color, sample.bg_color), sample.image)


def test_every_shape_lies_inside_the_image_and_covers_part_of_it():
    for index in range(50):
        mask = render_shape(index, 32).mask
        assert 0.03 < mask.mean() < 0.6
        assert not (mask[0].all() or mask[-1].all() or mask[:, 0].all() or mask[:, -1].all())


def test_labels_cycle_through_all_classes():
    assert [render_shape(i).label for i in range(10)] == [i % len(SHAPE_CLASSES) for i in range(10)]


@pytest.mark.parametrize("label, compactness, solidity", [
    (0, np.pi, 1.0),  # circle
    (1, 2.0, 1.0),  # square of circumradius 1
    (2, 3 * np.sqrt(3) / 4, 1.0),  # equilateral triangle
    (3, 1.32, 0.56),  # five-pointed star, inner radius 0.45
    (4, 1.87, 0.68),  # plus-shaped cross, arm half-width 0.3
])
def test_mask_has_the_geometry_of_its_label(label, compactness, solidity):
    for index in range(label, 25, len(SHAPE_CLASSES)):
        measured = mask_descriptors(render_shape(index, 128, seed=4).mask)
        np.testing.assert_allclose(measured, (compactness, solidity), rtol=0.12)


def test_unrotated_masks_keep_centre_size_and_geometry():
    """rotate=False (experiments/shapes_variants.py) changes only the angle: circles are unchanged, and each
    shape's bounding box is that of the shape at angle 0 (a square, drawn corner up, is as wide as it is tall)."""
    np.testing.assert_array_equal(shape_mask(0, 64, rotate=False), shape_mask(0, 64))  # a circle
    for index in range(1, 25, len(SHAPE_CLASSES)):  # squares
        upright, rotated = shape_mask(index, 128, seed=4, rotate=False), shape_mask(index, 128, seed=4)
        ys, xs = np.nonzero(upright)
        assert abs((xs.max() - xs.min()) - (ys.max() - ys.min())) <= 1
        assert abs(upright.sum() / rotated.sum() - 1) < 0.05
        np.testing.assert_allclose(np.argwhere(upright).mean(0), np.argwhere(rotated).mean(0), atol=1.5)
    assert not all(np.array_equal(shape_mask(i, 32, rotate=False), shape_mask(i, 32)) for i in range(1, 5))


def test_geometry_is_where_the_mask_is_drawn():
    """shape_geometry's centre and radius are the mask's: a circle (radius^2 * 0.8 inside) is centred on (cx, cy)
    with the area that radius gives; a cross reaches out to the radius along its arms, at the stated angle."""
    for index in range(0, 50, len(SHAPE_CLASSES)):  # circles
        g, mask = shape_geometry(index, 256, seed=2), shape_mask(index, 256, seed=2)
        ys, xs = np.nonzero(mask)
        np.testing.assert_allclose([xs.mean() + 0.5, ys.mean() + 0.5], [g.cx, g.cy], atol=0.05)
        assert abs(mask.sum() / (np.pi * 0.8 * g.radius**2) - 1) < 0.01
    for index in range(4, 54, len(SHAPE_CLASSES)):  # crosses: the arm tips lie at cx + radius * (cos, sin) of the angle
        g, mask = shape_geometry(index, 256, seed=2), shape_mask(index, 256, seed=2)
        for arm in range(4):
            angle = g.rotation + arm * np.pi / 2
            inner = 0.95 * g.radius * np.array([np.cos(angle), np.sin(angle)]) + [g.cx, g.cy]
            outer = 1.05 * g.radius * np.array([np.cos(angle), np.sin(angle)]) + [g.cx, g.cy]
            assert mask[int(inner[1]), int(inner[0])] and not mask[int(outer[1]), int(outer[0])]
    upright = shape_geometry(7, 32, rotate=False)
    rotated = shape_geometry(7, 32)
    assert upright.rotation == 0.0 and (upright.cx, upright.cy, upright.radius) == (rotated.cx, rotated.cy, rotated.radius)


def test_colours_are_independent_of_resolution_and_far_apart():
    for index in range(20):
        small, large = render_shape(index, 16, seed=9), render_shape(index, 64, seed=9)
        np.testing.assert_array_equal(small.fg_color, large.fg_color)
        np.testing.assert_array_equal(small.bg_color, large.bg_color)
        assert np.linalg.norm(small.fg_color.astype(float) - small.bg_color) >= 96


def test_structure_scales_with_resolution():
    small, large = render_shape(8, 16).mask, render_shape(8, 64).mask
    assert np.mean(large.reshape(16, 4, 16, 4).mean((1, 3)).round() == small) > 0.9


def test_structure_and_texture_vary_independently():
    samples = [render_shape(i, 16) for i in range(200)]
    area = np.array([s.mask.mean() for s in samples])
    brightness = np.array([s.fg_color.mean() for s in samples])
    assert abs(np.corrcoef(area, brightness)[0, 1]) < 0.2
    assert len({tuple(s.fg_color) for s in samples}) > 150 and len({s.mask.tobytes() for s in samples}) > 150


def test_negative_index_is_refused():
    with pytest.raises(ValueError, match="index must be >= 0"):
        render_shape(-1)


def test_the_source_keeps_read_only_renders_that_equal_fresh_ones():
    source = ShapesSource(size=50, seed=3, resolution=16)
    first = source.load(7)
    assert source.load(7) is not None and np.shares_memory(first, source.load(7))  # rendered once, kept
    np.testing.assert_array_equal(first, render_shape(7, 16, seed=3).image.transpose(1, 2, 0))
    with pytest.raises(ValueError, match="read-only"):
        first[0, 0, 0] = 1
    for index in (0, 49, 7):  # in any order, each item is its own render
        np.testing.assert_array_equal(source.load(index), render_shape(index, 16, seed=3).image.transpose(1, 2, 0))


def test_a_source_too_large_to_keep_renders_each_time(monkeypatch):
    monkeypatch.setattr(shapes, "SHAPES_CACHE_BYTES", 10 * 16 * 16 * 3 - 1)  # one byte short of 10 renders
    source = ShapesSource(size=10, seed=3, resolution=16)
    a, b = source.load(2), source.load(2)
    assert not np.shares_memory(a, b)
    np.testing.assert_array_equal(a, b)
    a[0, 0, 0] ^= 255  # a fresh render belongs to the caller
    np.testing.assert_array_equal(source.load(2), render_shape(2, 16, seed=3).image.transpose(1, 2, 0))


def test_a_pickled_source_leaves_its_renders_behind():
    source = ShapesSource(size=2000, seed=3, resolution=32)
    for index in range(2000):
        source.load(index)
    data = pickle.dumps(source)
    assert len(data) < 10_000  # the renders (6 MB) stay in this process
    clone = pickle.loads(data)
    assert clone.location == source.location and len(clone) == 2000
    np.testing.assert_array_equal(clone.load(1234), source.load(1234))
