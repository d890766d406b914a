"""Seeds and frame ranges given from Python are checked as the command line checks them: one line naming the
argument, not NumPy's or torch's error from deep inside."""

import numpy as np
import pytest
import torch

from stylegan2.tools import ToolError, seed_latent, seed_ws
from stylegan2.tools.video import interpolation_ws, keyframe_ws


@pytest.mark.parametrize("seed, message", [
    ("3", r"^seed '3' is not a whole number in 0\.\.4294967295; pass an int$"),
    (1.0, r"^seed 1.0 is not a whole number"),
    (-1, r"^seed -1 is outside 0\.\.4294967295$"),
    (2**32, r"^seed 4294967296 is outside 0\.\.4294967295$"),
])
def test_a_seed_that_numpy_cannot_take_is_refused_naming_it(tiny_generator, seed, message):
    G = tiny_generator()
    with pytest.raises(ToolError, match=message):
        seed_ws(G, seed)
    with pytest.raises(ToolError, match=message):
        seed_latent(G, seed)


def test_numpy_integers_are_seeds(tiny_generator):
    G = tiny_generator()
    torch.testing.assert_close(seed_ws(G, np.int64(3)), seed_ws(G, 3), rtol=0, atol=0)


@pytest.mark.parametrize("frames", [range(10, 20), range(-2, 2), range(3, 3), [1, 2], (0, 12)])
def test_frames_outside_the_video_or_not_a_range_are_refused_saying_what_they_must_be(tiny_generator, frames):
    """range(10, 20) failed with an IndexError, [1, 2] with an AttributeError; range(-2, 2) made frames silently."""
    G = tiny_generator()
    message = r"^frames must be a non-empty range of frame indices in 0\.\.11 \(num_frames 12\), such as range\(0, 12\); got "
    for space in ("z", "w"):
        with pytest.raises(ToolError, match=message):
            interpolation_ws(G, [0, 1, 2], 12, space=space, frames=frames)
    with pytest.raises(ToolError, match=message):
        keyframe_ws(torch.zeros(3, G.num_ws, G.w_dim), 12, frames)


def test_a_range_within_the_video_picks_its_frames_in_any_order(tiny_generator):
    G = tiny_generator()
    every = interpolation_ws(G, [0, 1, 2], 12)
    torch.testing.assert_close(interpolation_ws(G, [0, 1, 2], 12, frames=range(11, 2, -4)), every[[11, 7, 3]])
