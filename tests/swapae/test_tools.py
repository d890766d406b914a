"""swap / encode / decode on saved images, and the benchmark's swap metrics on constructed ground truth."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan2.data.shapes import paint, render_shape
from stylegan2.io import save_checkpoint
from stylegan2.models import Generator
from stylegan2.swapae import tools as tools_module
from stylegan2.swapae.tools import (
    decode,
    decode_codes,
    encode,
    encode_images,
    load_swapae,
    read_images,
    reconstruct_images,
    swap,
    swap_images,
)
from stylegan2.tools import ToolError
from stylegan2.tools.files import OutputExistsError
from stylegan2.utils.image import to_uint8_nhwc

pytestmark = pytest.mark.usefixtures("one_thread")

# The swap scores of experiments/swapae_quality.py, from its shared helper module (a module, not a script).
SWAPS = Path(__file__).resolve().parents[2] / "experiments" / "scoring" / "swaps.py"


@pytest.fixture
def shape_files(tmp_path) -> list[Path]:
    """Five 16 px builtin:shapes images saved as PNG."""
    paths = []
    for i in range(5):
        path = tmp_path / "inputs" / f"shape{i}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(render_shape(i, 16, seed=7).image.transpose(1, 2, 0)).save(path)
        paths.append(path)
    return paths


def png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_swap_writes_a_grid_with_inputs_on_the_borders_and_every_pair(swapae_snapshot, shape_files, tmp_path):
    paths = swap(swapae_snapshot, shape_files[:2], shape_files[2:], tmp_path / "out", device="cpu")
    assert [p.name for p in paths] == ["swap_grid.png"] + [f"swap_s{i:02d}_t{j:02d}.png" for i in range(2) for j in range(3)]
    grid = png(paths[0])
    assert grid.shape == (3 * 16, 4 * 16, 3)  # 2 structure rows + border, 3 texture columns + border
    assert not grid[:16, :16].any()
    np.testing.assert_array_equal(grid[16:32, :16], png(shape_files[0]))  # structures down the left
    np.testing.assert_array_equal(grid[:16, 48:64], png(shape_files[4]))  # textures along the top
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(grid[16 * (i + 1): 16 * (i + 2), 16 * (j + 1): 16 * (j + 2)], png(paths[1 + 3 * i + j]))

    E, G = load_swapae(swapae_snapshot, "cpu")
    structure, _ = encode_images(E, read_images(shape_files[1:2], E, "x"))
    _, texture = encode_images(E, read_images(shape_files[3:4], E, "x"))
    expected = to_uint8_nhwc(decode_codes(G, structure, texture))[0]  # G(structure of s1, texture of t1)
    assert np.abs(png(paths[5]).astype(int) - expected.astype(int)).max() <= 1


def test_alpha_zero_reproduces_the_structure_images_reconstruction(swapae_snapshot, shape_files):
    E, G = load_swapae(swapae_snapshot, "cpu")
    structures, textures = read_images(shape_files[:2], E, "x"), read_images(shape_files[2:], E, "x")
    at_zero = swap_images(E, G, structures, textures, alpha=0.0)  # [2, 3, C, H, W]
    reconstruction = reconstruct_images(E, G, structures)
    for j in range(3):
        torch.testing.assert_close(at_zero[:, j], reconstruction, rtol=0, atol=1e-5)
    at_one = swap_images(E, G, structures, textures, alpha=1.0)
    halfway = swap_images(E, G, structures, textures, alpha=0.5)
    assert (at_one - at_zero).abs().max() > 1e-3  # the texture code matters
    assert (halfway - at_zero).abs().max() > 1e-4 and (halfway - at_one).abs().max() > 1e-4


def test_encode_then_decode_equals_direct_reconstruction(swapae_snapshot, shape_files, tmp_path):
    codes = encode(swapae_snapshot, shape_files, tmp_path / "codes.npz", device="cpu")
    with np.load(codes) as npz:
        assert npz["structure"].shape == (5, 4, 4, 4) and npz["texture"].shape == (5, 16)
        assert list(npz["names"]) == [p.name for p in shape_files]
        np.testing.assert_allclose(np.linalg.norm(npz["texture"], axis=1), 1, atol=1e-5)
    paths = decode(swapae_snapshot, codes, tmp_path / "decoded", device="cpu")
    assert [p.name for p in paths] == [f"decoded{i:04d}.png" for i in range(5)]
    E, G = load_swapae(swapae_snapshot, "cpu")
    direct = to_uint8_nhwc(reconstruct_images(E, G, read_images(shape_files, E, "x")))
    for path, image in zip(paths, direct):
        np.testing.assert_array_equal(png(path), image)


def test_codes_may_be_named_with_an_upper_case_suffix(swapae_snapshot, shape_files, tmp_path):
    codes = encode(swapae_snapshot, shape_files[:1], tmp_path / "codes.NPZ", device="cpu")
    assert codes == tmp_path / "codes.NPZ" and sorted(p.name for p in tmp_path.glob("codes*")) == ["codes.NPZ"]
    assert len(decode(swapae_snapshot, codes, tmp_path / "decoded", device="cpu")) == 1


def test_decode_with_textures_from_other_codes(swapae_snapshot, shape_files, tmp_path):
    codes = encode(swapae_snapshot, shape_files[:2], tmp_path / "structures.npz", device="cpu")
    one = encode(swapae_snapshot, shape_files[4:], tmp_path / "one.npz", device="cpu")
    three = encode(swapae_snapshot, shape_files[2:], tmp_path / "three.npz", device="cpu")
    paths = decode(swapae_snapshot, codes, tmp_path / "out", texture_from=one, device="cpu")
    E, G = load_swapae(swapae_snapshot, "cpu")
    swapped = to_uint8_nhwc(swap_images(E, G, read_images(shape_files[:2], E, "x"), read_images(shape_files[4:], E, "x"))[:, 0])
    for path, image in zip(paths, swapped):
        assert np.abs(png(path).astype(int) - image.astype(int)).max() <= 1
    with pytest.raises(ToolError, match="holds 3 texture codes but --codes .* holds 2 structures"):
        decode(swapae_snapshot, codes, tmp_path / "out2", texture_from=three, device="cpu")
    np.savez(tmp_path / "texture_only.npz", texture=np.load(one)["texture"])  # e.g. an average texture made in Python
    again = decode(swapae_snapshot, codes, tmp_path / "out3", texture_from=tmp_path / "texture_only.npz", device="cpu")
    assert all((png(a) == png(b)).all() for a, b in zip(paths, again))


def test_an_alpha_sweep_writes_each_alpha_and_a_row_per_pair(swapae_snapshot, shape_files, tmp_path):
    """The paper's interpolation figures in one call: structure, the sweep, texture, for each pair."""
    paths = swap(swapae_snapshot, shape_files[:2], shape_files[2:3], tmp_path, alpha="0,0.5,1", device="cpu")
    assert [p.name for p in paths] == ["swap_grid.png", "swap_s00_t00_a00.png", "swap_s00_t00_a01.png",
                                       "swap_s00_t00_a02.png", "swap_s01_t00_a00.png", "swap_s01_t00_a01.png",
                                       "swap_s01_t00_a02.png"]
    E, G = load_swapae(swapae_snapshot, "cpu")
    structures, textures = read_images(shape_files[:2], E, "x"), read_images(shape_files[2:3], E, "x")
    for k, alpha in enumerate((0.0, 0.5, 1.0)):
        expected = to_uint8_nhwc(swap_images(E, G, structures, textures, alpha)[1, 0:1])[0]
        assert np.abs(png(tmp_path / f"swap_s01_t00_a{k:02d}.png").astype(int) - expected.astype(int)).max() <= 1
    grid = png(tmp_path / "swap_grid.png")
    assert grid.shape == (2 * 16, 5 * 16, 3)  # two pairs; structure, three alphas, texture
    np.testing.assert_array_equal(grid[16:, :16], to_uint8_nhwc(structures[1:2])[0])
    np.testing.assert_array_equal(grid[16:, 64:], to_uint8_nhwc(textures)[0])
    with pytest.raises(ToolError, match=r"^--alpha '0,x': give a number from 0 to 1, or several separated by commas"):
        swap(swapae_snapshot, shape_files[:1], shape_files[1:2], tmp_path / "o", alpha="0,x", device="cpu")
    with pytest.raises(ToolError, match=r"^--alpha must be between 0 and 1, got 2.0$"):
        swap(swapae_snapshot, shape_files[:1], shape_files[1:2], tmp_path / "o", alpha=[0.5, 2.0], device="cpu")
    one = swap(swapae_snapshot, shape_files[:1], shape_files[1:2], tmp_path / "np", alpha=np.float32(0.5), device="cpu")
    assert [p.name for p in one] == ["swap_grid.png", "swap_s00_t00.png"]  # a NumPy scalar is one alpha


def test_outputs_are_not_overwritten_without_force(swapae_snapshot, shape_files, tmp_path):
    swap(swapae_snapshot, shape_files[:1], shape_files[1:2], tmp_path, device="cpu")
    with pytest.raises(OutputExistsError, match="swap_grid.png already exists .*--force"):
        swap(swapae_snapshot, shape_files[:1], shape_files[1:2], tmp_path, device="cpu")
    swap(swapae_snapshot, shape_files[:1], shape_files[1:2], tmp_path, device="cpu", force=True)
    encode(swapae_snapshot, shape_files[:1], tmp_path / "c.npz", device="cpu")
    with pytest.raises(OutputExistsError, match="c.npz already exists"):
        encode(swapae_snapshot, shape_files[:1], tmp_path / "c.npz", device="cpu")


def test_images_of_another_size_or_mode_are_converted_with_a_warning(swapae_snapshot, shape_files, tmp_path):
    big = tmp_path / "big.png"
    Image.fromarray(render_shape(0, 32, seed=7).image.transpose(1, 2, 0)).save(big)
    gray = tmp_path / "gray.png"
    Image.open(shape_files[1]).convert("L").save(gray)
    E, _ = load_swapae(swapae_snapshot, "cpu")
    with pytest.warns(UserWarning, match="resized from 32x32 to the network's 16x16"):
        images = read_images([big], E, "--structure")
    assert images.shape == (1, 3, 16, 16)
    with pytest.warns(UserWarning, match="converted from L to RGB"):
        assert read_images([gray], E, "--texture").shape == (1, 3, 16, 16)


def test_bad_inputs_are_named(swapae_snapshot, shape_files, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing.png: no such image file \(--texture\)"):
        swap(swapae_snapshot, shape_files[:1], [tmp_path / "missing.png"], tmp_path / "o", device="cpu")
    with pytest.raises(ToolError, match="--alpha must be between 0 and 1, got 1.5"):
        swap(swapae_snapshot, shape_files[:1], shape_files[1:2], tmp_path / "o", alpha=1.5, device="cpu")
    not_image = tmp_path / "notes.png"
    not_image.write_text("hello")
    with pytest.raises(ToolError, match="notes.png: cannot read as an image"):
        encode(swapae_snapshot, [not_image], tmp_path / "codes.npz", device="cpu")
    with pytest.raises(ToolError, match="codes are saved as .npz"):
        encode(swapae_snapshot, shape_files, tmp_path / "codes.txt", device="cpu")

    G = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 1},
                  synthesis_kwargs={"channel_base": 64, "channel_max": 8})
    stylegan = save_checkpoint(tmp_path / "g.safetensors", {"G_ema": G})
    with pytest.raises(ToolError, match="not a Swapping Autoencoder .*G_ema \\(Generator\\)"):
        encode(stylegan, shape_files, tmp_path / "codes.npz", device="cpu")


def test_codes_that_do_not_fit_the_network_are_refused(swapae_snapshot, tmp_path):
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, structure=np.zeros((2, 8, 4, 4), np.float32), texture=np.zeros((2, 16), np.float32))
    with pytest.raises(ToolError, match=r"structure codes have shape \[2, 8, 4, 4\], but this network takes \[N, 4, 4, 4\]"):
        decode(swapae_snapshot, wrong, tmp_path / "o", device="cpu")
    partial = tmp_path / "partial.npz"
    np.savez(partial, structure=np.zeros((2, 4, 4, 4), np.float32))
    with pytest.raises(ToolError, match="holds no texture array"):
        decode(swapae_snapshot, partial, tmp_path / "o", device="cpu")


@pytest.mark.parametrize("structure, texture, message", [
    (np.zeros((0, 4, 4, 4), np.float32), np.zeros((0, 16), np.float32), r"holds no codes \(0 images\)"),
    (np.full((1, 4, 4, 4), "a"), np.zeros((1, 16), np.float32), "structure codes are <U1, not numbers"),
    (np.zeros((1, 4, 4, 4), np.float32), np.full((1, 16), np.nan, np.float32), "texture codes hold NaN or infinite values"),
    # finite in float64 but infinite as the float32 the network takes: decoded as all-black images before
    (np.full((1, 4, 4, 4), 1e300), np.zeros((1, 16)), r"structure codes hold NaN or infinite values \(as float32\)"),
])
def test_empty_non_numeric_or_non_finite_codes_are_refused(swapae_snapshot, tmp_path, structure, texture, message):
    codes = tmp_path / "codes.npz"
    np.savez(codes, structure=structure, texture=texture)
    with pytest.raises(ToolError, match=message):
        decode(swapae_snapshot, codes, tmp_path / "o", device="cpu")
    with pytest.raises(ToolError, match=message):
        decode(swapae_snapshot, codes, tmp_path / "o", texture_from=codes, device="cpu")
    assert not (tmp_path / "o").exists()


# The benchmark's metrics, on constructed ground truth.

@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("swaps", SWAPS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_perfect_swap_scores_iou_one_and_distance_zero(bench):
    structure, texture = render_shape(3, 32, seed=5), render_shape(8, 32, seed=5)
    perfect = paint(structure.mask, texture.fg_color, texture.bg_color)
    scores = bench.score_swap(perfect, structure, texture)
    assert scores["iou_structure"] == 1.0 and scores["dist_texture"] == 0.0
    assert scores["iou_texture"] < 1.0 and scores["dist_structure"] > 30  # the baselines see a different answer


def test_copying_the_structure_image_fails_the_colour_test(bench):
    structure, texture = render_shape(3, 32, seed=5), render_shape(8, 32, seed=5)
    scores = bench.score_swap(structure.image, structure, texture)
    assert scores["dist_structure"] == 0.0 and scores["dist_texture"] > scores["dist_structure"]


def test_metric_functions_against_hand_computed_values(bench):
    a = np.zeros((4, 4), bool)
    a[:2] = True  # 8 pixels
    b = np.zeros((4, 4), bool)
    b[1:3] = True  # 8 pixels, 4 shared
    assert bench.mask_iou(a, b) == pytest.approx(4 / 12)
    assert bench.mask_iou(np.zeros((2, 2), bool), np.zeros((2, 2), bool)) == 1.0

    fg, bg = np.array([200, 0, 0]), np.array([0, 0, 200])
    image = paint(a, fg, bg).astype(np.int64)
    image[:, 3, 3] = [120, 0, 80]  # nearer to fg although outside the mask
    expected = a.copy()
    expected[3, 3] = True
    np.testing.assert_array_equal(bench.segment(image, fg, bg), expected)
    # inside the mask: 8 exact pixels; outside: 7 exact, one at distance |(120, 0, -120)|
    assert bench.color_distance(image, a, fg, bg) == pytest.approx((0 + np.hypot(120, 120) / 8) / 2)


def test_bench_set_overrides_are_typed_like_the_options(bench, capsys):
    import argparse

    parser = argparse.ArgumentParser(prog="swapae_quality.py")
    overrides = bench.parse_overrides(parser, ["lambda_l2=8", "recolor_structure=false", "spatial_code_ch=8", "max_size=100"])
    assert overrides == {"lambda_l2": 8.0, "recolor_structure": False, "spatial_code_ch": 8, "max_size": 100}
    assert isinstance(overrides["lambda_l2"], float)
    for item, message in (("lr=abc", "lr takes a float"), ("recolor_structure=1", "recolor_structure takes a bool"),
                          ("no_such_option=1", "expected NAME=VALUE"), ("lr", "expected NAME=VALUE")):
        with pytest.raises(SystemExit):
            bench.parse_overrides(parser, [item])
        assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", ["swap", "encode", "decode"])
def test_an_output_that_appears_while_the_command_runs_is_left_alone(swapae_snapshot, shape_files, tmp_path, monkeypatch,
                                                                       command):
    """Without --force, a file another command wrote after the start-up check is never replaced (as generate's)."""
    codes = encode(swapae_snapshot, shape_files[:1], tmp_path / "codes.npz", device="cpu")
    theirs = {"swap": tmp_path / "out" / "swap_grid.png", "encode": tmp_path / "c.npz",
              "decode": tmp_path / "out" / "decoded0000.png"}[command]
    work = "decode_codes" if command == "decode" else "load_swapae"  # a step after the command's check of its outputs
    real = getattr(tools_module, work)

    def another_command_writes(*args, **kwargs):
        theirs.parent.mkdir(exist_ok=True)
        theirs.write_bytes(b"theirs")
        return real(*args, **kwargs)
    monkeypatch.setattr(tools_module, work, another_command_writes)
    run = {"swap": lambda: swap(swapae_snapshot, shape_files[:1], shape_files[1:2], tmp_path / "out", device="cpu"),
           "encode": lambda: encode(swapae_snapshot, shape_files[:1], theirs, device="cpu"),
           "decode": lambda: decode(swapae_snapshot, codes, tmp_path / "out", device="cpu")}[command]
    with pytest.raises(ToolError, match="appeared while this command ran.*; this command's output was not kept$"):
        run()
    assert theirs.read_bytes() == b"theirs"
