"""experiments/shapes_variants.py writes builtin:shapes' items with one property changed, and refuses bad options in one line."""

from pathlib import Path

import numpy as np
import pytest

from stylegan2.data.shapes import render_shape, shape_mask

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "shapes_variants.py"


def test_variants_change_one_property_of_the_builtin_items(tmp_path, run_script):
    for variant in ("upright", "mono"):
        result = run_script(SCRIPT, ["--variant", variant, "--out", f"{variant}.npz", "--count", "6"], tmp_path)
        assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "upright.npz") as upright, np.load(tmp_path / "mono.npz") as mono:
        assert set(upright.files) == set(mono.files) == {"x_train"}  # unlabeled, as builtin:shapes trains
        upright_images, mono_images = upright["x_train"], mono["x_train"]
    assert upright_images.shape == mono_images.shape == (6, 32, 32, 3) and upright_images.dtype == np.uint8
    for index in range(6):
        builtin = render_shape(index)
        white_on_black = np.where(builtin.mask[..., None], 255, 0).repeat(3, axis=2)
        np.testing.assert_array_equal(mono_images[index], white_on_black)  # same shape, no colour
        expected = np.where(shape_mask(index, 32, rotate=False)[..., None], builtin.fg_color, builtin.bg_color)
        np.testing.assert_array_equal(upright_images[index], expected)  # same colours, no rotation


@pytest.mark.parametrize("args,message", [
    (["--variant", "tilted", "--out", "x.npz"], "argument --variant: invalid choice: 'tilted'"),
    (["--variant", "mono", "--out", "x.npz", "--count", "0"], "--count must be at least 1, got 0"),
    (["--variant", "mono", "--out", "x.png"], "--out x.png: give a file name ending in .npz"),
    (["--variant", "mono", "--out", "missing/x.npz"], "--out missing/x.npz: no such folder missing"),
    # a size training refuses (it opens powers of two)
    (["--variant", "mono", "--out", "x.npz", "--resolution", "7"], "--resolution must be a power of two from 4 to 1024, got 7"),
])
def test_bad_options_give_one_line_errors(tmp_path, run_script, args, message):
    result = run_script(SCRIPT, args, tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_never_overwritten(tmp_path, run_script):
    (tmp_path / "mine.npz").write_bytes(b"keep")
    result = run_script(SCRIPT, ["--variant", "mono", "--out", "mine.npz"], tmp_path)
    assert result.returncode == 1 and "mine.npz exists: choose a new file name" in result.stderr
    assert (tmp_path / "mine.npz").read_bytes() == b"keep"
