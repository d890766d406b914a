"""Every tool on a non-square (2:1 and 1:2) generator: images, grids, mixing, videos, projection, export, directions."""

import warnings

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.explore import open_explorer
from stylegan2.io import save_checkpoint
from stylegan2.models import Generator
from stylegan2.tools import factorize, find_directions, project, project_image, render_video, seed_images, style_mix, synthesize
from stylegan2.tools.export import MAX_ABS_DIFF, example_inputs, export_generator, run_exported
from stylegan2.tools.files import load_target_image
from stylegan2.tools.project import LpipsDistance, PixelDistance, ProjectionConfig

ASPECTS = {"2:1": (8, 16), "1:2": (16, 8)}  # width:height -> image (H, W) at resolution 8


def wide_generator(aspect: str = "2:1", seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    G = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3, mapping_kwargs={"num_layers": 1},
                  synthesis_kwargs={"channel_base": 64, "channel_max": 8, "img_aspect": aspect})
    with torch.no_grad():
        for name, param in G.named_parameters():
            if "torgb.weight" in name:
                param.mul_(0.25)  # images near [-1, 1], as after training
        G.mapping.w_avg.copy_(G.mapping(torch.randn(256, 8), None)[:, 0].mean(0))
    return G.eval()


@pytest.fixture(params=list(ASPECTS))
def aspect(request) -> str:
    return request.param


@pytest.fixture
def wide_file(tmp_path, aspect):
    return save_checkpoint(tmp_path / "wide.safetensors", {"G_ema": wide_generator(aspect)})


def png_shape(path) -> tuple[int, ...]:
    with PIL.Image.open(path) as image:
        return np.asarray(image).shape


def test_generate_writes_images_and_grids_of_the_aspect(wide_file, tmp_path, aspect):
    h, w = ASPECTS[aspect]
    for extra, name, shape in ((), "seed0001.png", (h, w, 3)), (("--grid", "2x1"), "grid.png", (h, 2 * w, 3)):
        result = CliRunner().invoke(main, ["generate", "--network", str(wide_file), "--seeds", "0-1", "--outdir",
                                           str(tmp_path / "out"), "--device", "cpu", "--force", *extra])
        assert result.exit_code == 0, result.output
        assert png_shape(tmp_path / "out" / name) == shape


def test_style_mixing_grid_has_non_square_cells(wide_file, tmp_path, aspect):
    h, w = ASPECTS[aspect]
    result = CliRunner().invoke(main, ["mix", "--network", str(wide_file), "--rows", "0-1", "--cols", "2-4",
                                       "--outdir", str(tmp_path), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert png_shape(tmp_path / "stylemix.png") == (3 * h, 4 * w, 3)
    path = style_mix(wide_generator(aspect), "0", "1", tmp_path / "api", styles="0-1")
    assert png_shape(path) == (2 * h, 2 * w, 3)


def test_video_frames_keep_the_aspect(tmp_path, aspect):
    h, w = ASPECTS[aspect]
    path = render_video(wide_generator(aspect), "0-3", tmp_path, frames=3, grid="2x1", video_format="gif")
    with PIL.Image.open(path) as gif:
        assert (gif.n_frames, gif.size) == (3, (2 * w, h))


def test_projection_of_a_generated_image_gets_closer(aspect):
    G = wide_generator(aspect)
    target = seed_images(G, [5])[0]
    assert target.shape == (*ASPECTS[aspect], 3)
    result = project(G, target, config=ProjectionConfig(num_steps=30, w_avg_samples=200))

    def error(ws: torch.Tensor) -> float:
        return float(np.abs(synthesize(G, ws)[0].astype(np.float64) - target).mean())

    assert error(result.w) < 0.7 * error(G.mapping.w_avg.expand(1, G.num_ws, G.w_dim))


def test_projection_refuses_a_target_of_another_shape():
    with pytest.raises(ValueError, match=r"target image has shape \[8, 8, 3\], expected \[H, W, C\] = \[8, 16, 3\]"):
        project(wide_generator("2:1"), np.zeros((8, 8, 3), np.uint8), config=ProjectionConfig(num_steps=1))


def test_a_target_of_another_aspect_is_cropped_to_the_networks(tmp_path):
    image = np.zeros((40, 40, 3), np.uint8)
    image[10:30] = 255  # the centred 40x20 band a 2:1 crop keeps
    PIL.Image.fromarray(image).save(tmp_path / "t.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        target = load_target_image(tmp_path / "t.png", 8, 3, "2:1")
    messages = " ".join(str(w.message) for w in caught)
    assert "40x40 is not 2:1 (width:height); center-cropped to 40x20" in messages and "to the network's 16x8" in messages
    assert target.shape == (8, 16, 3) and target.min() == 255


def test_project_image_writes_non_square_outputs(wide_file, tmp_path, aspect):
    h, w = ASPECTS[aspect]
    PIL.Image.fromarray(np.full((2 * h, 2 * w, 3), 128, np.uint8)).save(tmp_path / "target.png")
    with pytest.warns(UserWarning, match=f"resized from {2 * w}x{2 * h} to the network's {w}x{h}"):
        project_image(wide_file, tmp_path / "target.png", tmp_path / "out", steps=2, loss="pixel", save_video=True,
                      video_format="gif", device="cpu")
    assert png_shape(tmp_path / "out" / "proj.png") == (h, w, 3)
    with PIL.Image.open(tmp_path / "out" / "proj.gif") as gif:
        assert gif.size == (2 * w, h)  # target and projection side by side


def test_distances_keep_the_aspect_when_they_shrink_images():
    seen = []

    def vgg(images, resize_images, return_lpips):
        seen.append(tuple(images.shape[2:]))
        return images.flatten(1)

    LpipsDistance(vgg, torch.zeros(1, 3, 512, 1024))
    assert seen == [(256, 512)]  # the shorter side brought to 256, as NVIDIA's 256x256 for square images
    assert [tuple(x.shape[2:]) for x in PixelDistance.pyramid(torch.zeros(1, 3, 32, 16))] == [(32, 16), (16, 8)]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_export_reproduces_a_non_square_generator(tmp_path, aspect, fmt):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime", reason="ONNX export needs the export extra: pip install \"stylegan2[export]\"")
    G = wide_generator(aspect)
    result = export_generator(G, tmp_path / f"g.{'pt' if fmt == 'torchscript' else fmt}", format=fmt, batch=2)
    inputs = example_inputs(G, 2, seed=3)
    with torch.no_grad():
        expected = G(inputs["z"], None, noise_mode="const")
    got = run_exported(result.path, fmt, inputs)
    assert got.shape == (2, 3, *ASPECTS[aspect]) and (got - expected).abs().max() <= MAX_ABS_DIFF


def test_directions_and_their_strips(wide_file, tmp_path, aspect):
    assert factorize(wide_generator(aspect)).directions.shape[1] == 8
    paths = find_directions(wide_file, tmp_path, strips=1, seeds="0", device="cpu")
    strips = [p for p in paths if p.suffix == ".png"]
    assert strips and png_shape(strips[0])[0] == ASPECTS[aspect][0]


def test_explorer_reports_width_and_height(wide_file, aspect):
    info = open_explorer(wide_file, "cpu", top_k=2).info()
    assert (info["height"], info["width"], info["resolution"]) == (*ASPECTS[aspect], 8)
