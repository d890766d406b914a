"""`stylegan2 project`: NVIDIA's projection recipe recovers generated images; outputs and inputs are checked."""

import importlib
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.tools import ToolError, generate_images, load_generator, project, project_image, seed_images, synthesize
from stylegan2.tools.files import OutputExistsError, load_target_image
from stylegan2.tools.project import ProjectionConfig, learning_rate, noise_regularization

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning")

# 30 dB is an RMS error of 8/255 (3 % of the range): visibly the same picture. The projection
# starts from the mean w, whose image is 12-20 dB from these targets, and the pixel loss reaches
# 35-60 dB within 150 steps on the tiny network, so 30 dB separates "recovered" from "stuck".
MIN_PSNR_DB = 30.0
SHORT = ProjectionConfig(num_steps=150, w_avg_samples=1000)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-12)))


class FakeVGG(torch.nn.Module):
    """Stands in for NVIDIA's vgg16.pt: same forward arguments, features = normalized 4x4 pooled pixels."""

    def forward(self, img: torch.Tensor, resize_images: bool = True, return_lpips: bool = False,
                return_features: bool = False) -> torch.Tensor:
        x = torch.nn.functional.adaptive_avg_pool2d(img / 255, 4).flatten(1)
        return torch.nn.functional.normalize(x, dim=1) if return_lpips else x


@pytest.mark.parametrize("seed", [1, 2])
def test_projection_recovers_a_generated_image(tiny_generator, seed):
    G = tiny_generator()
    target = seed_images(G, [seed])[0]
    start = synthesize(G, G.mapping.w_avg.expand(1, G.num_ws, G.w_dim))[0]
    result = project(G, target, config=SHORT)
    assert result.loss == "pixel"
    assert psnr(synthesize(G, result.w)[0], target) > max(MIN_PSNR_DB, psnr(start, target) + 10)


def test_w_plus_gives_one_w_per_layer(tiny_generator):
    G = tiny_generator()
    result = project(G, seed_images(G, [1])[0], config=ProjectionConfig(num_steps=5, w_avg_samples=100), w_plus=True)
    assert result.w.shape == (1, G.num_ws, G.w_dim)
    assert not torch.equal(result.w[0, 0], result.w[0, 1])
    assert result.w_steps.shape == (5, G.num_ws, G.w_dim)


def test_the_steps_read_nothing_back_until_the_end(tiny_generator, monkeypatch):
    """A read to the host makes the CPU wait for a GPU: the per-step ws and distances are read once, at the end, so a
    longer projection reads back no more often than a short one."""
    G = tiny_generator()
    target = seed_images(G, [1])[0]
    reads = []
    for name in ("cpu", "tolist", "item", "__float__"):
        def counted(self, *args, _read=getattr(torch.Tensor, name), _name=name, **kwargs):
            if Path(sys._getframe(1).f_code.co_filename).parent.name != "optim":  # Adam reads its CPU step counters
                reads.append(_name)
            return _read(self, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, counted)
    counts = []
    for steps in (3, 9):
        reads.clear()
        result = project(G, target, config=ProjectionConfig(num_steps=steps, w_avg_samples=100))
        counts.append(len(reads))
        assert len(result.distances) == steps and all(isinstance(d, float) for d in result.distances)
    assert counts[0] == counts[1]


def test_projection_leaves_the_network_untouched(tiny_generator):
    G = tiny_generator(noise_strength=0.1)
    before = {k: v.clone() for k, v in G.state_dict().items()}
    project(G, seed_images(G, [1])[0], config=ProjectionConfig(num_steps=3, w_avg_samples=100))
    for key, value in G.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)


def test_learning_rate_ramps_up_then_down():
    config = ProjectionConfig(num_steps=1000)
    assert learning_rate(0, config) == 0
    assert learning_rate(25, config) == pytest.approx(0.05)
    assert learning_rate(500, config) == pytest.approx(0.1)
    assert learning_rate(999, config) < 1e-4


def test_noise_regularization_penalizes_smooth_maps_not_white_noise():
    white = torch.randn(32, 32, generator=torch.Generator().manual_seed(0))
    smooth = torch.ones(32, 32)
    assert noise_regularization(white) < 0.05
    assert noise_regularization(smooth) > 1


def test_vgg_network_is_used_when_given(tiny_generator, tmp_path):
    torch.jit.save(torch.jit.script(FakeVGG()), str(tmp_path / "vgg16.pt"))
    G = tiny_generator()
    target_path = generate_images(G, [1], tmp_path)[0]
    result = project_image(G, target_path, tmp_path / "out", steps=20, vgg=tmp_path, save_video=False)
    assert result.loss == "lpips"


def test_existing_outputs_are_refused_before_vgg16_is_looked_for(tiny_generator, tmp_path, monkeypatch):
    """Online, looking for VGG16 downloads it (about 500 MB): not for a run that then refuses its outputs."""
    G = tiny_generator()
    target_path = generate_images(G, [1], tmp_path)[0]
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "proj.png").write_bytes(b"mine")
    module = importlib.import_module("stylegan2.tools.project")  # the package's `project` is the function
    monkeypatch.setattr(module, "find_vgg16", lambda *args: pytest.fail("looked for VGG16 first"))
    with pytest.raises(OutputExistsError, match="proj.png already exists"):
        project_image(G, target_path, tmp_path / "out", steps=2, save_video=False)


@pytest.mark.parametrize("name", ["target.png", "proj.png"])
@pytest.mark.parametrize("force", [False, True])
def test_a_target_in_the_outdir_under_an_output_name_is_never_overwritten(tiny_generator, tmp_path, name, force):
    """--force overwrote the photo being projected (a 400x300 target.png became its 16x16 crop)."""
    photo = tmp_path / name
    PIL.Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(photo)
    before = photo.read_bytes()
    with pytest.raises(ToolError, match=rf"^{re.escape(str(photo))}: the destination is the source \(--target\); "
                                        r"choose another --outdir$"):
        project_image(tiny_generator(), photo, tmp_path, steps=2, loss="pixel", save_video=False, force=force)
    assert photo.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_the_command_refuses_a_target_that_is_an_output_even_with_force(network_file, tmp_path):
    photo = tmp_path / "target.png"
    PIL.Image.new("RGB", (40, 30), (200, 10, 10)).save(photo)
    before = photo.read_bytes()
    result = CliRunner().invoke(main, ["project", "--network", str(network_file()), "--target", str(photo), "--outdir",
                                       str(tmp_path), "--steps", "2", "--loss", "pixel", "--no-save-video", "--device", "cpu",
                                       "--force"])
    assert result.exit_code == 1 and result.output == (f"Error: {photo}: the destination is the source (--target); "
                                                       "choose another --outdir\n"), result.output  # no resize notes first
    assert photo.read_bytes() == before


def test_a_refused_projection_notes_nothing_it_would_have_written(network_file, tmp_path, monkeypatch):
    """It noted the GIF it would write (and the target's resize) before refusing the target as a destination."""
    monkeypatch.setattr("stylegan2.tools.files.mp4_available", lambda: False)
    photo = tmp_path / "target.png"
    PIL.Image.new("RGB", (40, 30), (200, 10, 10)).save(photo)
    result = CliRunner().invoke(main, ["project", "--network", str(network_file()), "--target", str(photo), "--outdir",
                                       str(tmp_path), "--steps", "2", "--loss", "pixel", "--device", "cpu", "--force"])
    assert result.exit_code == 1 and result.output == (f"Error: {photo}: the destination is the source (--target); "
                                                       "choose another --outdir\n"), result.output


def test_pixel_loss_is_announced_when_no_vgg_is_found(tiny_generator, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "empty-cache"))
    G = tiny_generator()
    target_path = generate_images(G, [1], tmp_path)[0]
    with pytest.warns(UserWarning, match="multi-scale pixel loss"):
        project_image(G, target_path, tmp_path / "out", steps=2, save_video=False)
    with pytest.raises(FileNotFoundError, match="--loss lpips needs the VGG16 LPIPS network"):
        project_image(G, target_path, tmp_path / "out2", steps=2, loss="lpips")


def test_a_transparent_targets_note_says_its_alpha_was_dropped(tmp_path):
    PIL.Image.new("RGBA", (16, 16), (255, 0, 0, 0)).save(tmp_path / "cutout.png")
    with pytest.warns(UserWarning, match=r"converted from RGBA to RGB to match the network's 3 channel\(s\) \(alpha "
                                         r"dropped: transparent pixels keep their stored colour\)"):
        load_target_image(tmp_path / "cutout.png", 16, 3)


def test_an_opaque_rgba_targets_note_does_not_say_alpha_was_dropped(tmp_path):
    """A screenshot saved as RGBA with every pixel opaque: converting it to RGB loses nothing."""
    PIL.Image.new("RGBA", (16, 16), (255, 0, 0, 255)).save(tmp_path / "shot.png")
    with pytest.warns(UserWarning) as notes:
        load_target_image(tmp_path / "shot.png", 16, 3)
    assert [str(note.message) for note in notes] == [f"{tmp_path / 'shot.png'}: converted from RGBA to RGB to match "
                                                     "the network's 3 channel(s)"]


def test_a_palette_targets_transparent_entry_is_noted_as_dropped(tmp_path):
    image = PIL.Image.fromarray(np.array([[0, 1], [1, 1]], np.uint8).repeat(8, 0).repeat(8, 1), "P")
    image.putpalette([0, 0, 0, 200, 50, 50] + [0] * 762)
    image.save(tmp_path / "logo.png", transparency=0)
    with pytest.warns(UserWarning, match=r"converted from P to RGB to match the network's 3 channel\(s\) \(alpha dropped"):
        load_target_image(tmp_path / "logo.png", 16, 3)


def test_target_of_another_size_and_mode_is_cropped_and_resized_with_notes(tiny_generator, tmp_path):
    PIL.Image.new("L", (40, 30), 128).save(tmp_path / "wide.png")
    with pytest.warns(UserWarning) as notes:
        project_image(tiny_generator(), tmp_path / "wide.png", tmp_path / "out", steps=2, loss="pixel",
                      save_video=False)
    messages = " ".join(str(n.message) for n in notes)
    assert "converted from L to RGB" in messages
    assert "center-cropped to 30x30" in messages
    assert "resized from 30x30 to the network's 16x16" in messages
    with PIL.Image.open(tmp_path / "out" / "target.png") as target:
        assert target.size == (16, 16) and target.mode == "RGB"


def test_a_phone_portrait_target_is_taken_upright(tmp_path):
    """A phone stores a portrait shot sideways with EXIF Orientation 6; the user means it as viewers show it."""
    stored = np.zeros((16, 16, 3), np.uint8)
    stored[:, :4] = 255  # a white band on the stored image's left: the top of the upright picture
    exif = PIL.Image.Exif()
    exif[0x0112] = 6
    PIL.Image.fromarray(stored).save(tmp_path / "portrait.png", exif=exif.tobytes())
    target = load_target_image(tmp_path / "portrait.png", 16, 3)
    assert target[:4].min() == 255 and target[4:].max() == 0


def test_a_16_bit_target_is_scaled_to_8_bits_not_clipped_to_white(tmp_path):
    values = np.linspace(0, 65535, 16 * 16).round().astype(np.uint16).reshape(16, 16)
    PIL.Image.fromarray(values).save(tmp_path / "gray16.png")  # mode I;16
    with pytest.warns(UserWarning, match="gray16.png: 16-bit grayscale scaled to 8 bits"):
        target = load_target_image(tmp_path / "gray16.png", 16, 1)
    np.testing.assert_array_equal(target[:, :, 0], np.rint(values / 257).astype(np.uint8))
    assert target.min() == 0 and target.max() == 255


def test_a_target_over_the_pixel_limit_is_refused_in_words_and_read_once_raised(tmp_path, monkeypatch):
    """The dataset tool's guard against decompression bombs, with its variable; Pillow's own warning (no file named)
    is left out when the limit is raised past Pillow's."""
    import warnings

    PIL.Image.new("RGB", (40, 30)).save(tmp_path / "big.png")
    monkeypatch.setenv("STYLEGAN2_MAX_IMAGE_PIXELS", "1000")
    with pytest.raises(ToolError, match=r"big\.png: image is 40x30, more than 1,000 pixels \(a guard against "
                                        r"decompression bombs\); raise \$STYLEGAN2_MAX_IMAGE_PIXELS if you trust the "
                                        r"file, or downscale it first$"):
        load_target_image(tmp_path / "big.png", 16, 3)
    monkeypatch.setenv("STYLEGAN2_MAX_IMAGE_PIXELS", "2000")
    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 500)  # Pillow would warn above this
    with warnings.catch_warnings():
        warnings.simplefilter("error", PIL.Image.DecompressionBombWarning)
        with pytest.warns(UserWarning, match="center-cropped"):
            assert load_target_image(tmp_path / "big.png", 16, 3).shape == (16, 16, 3)


def test_a_floating_point_target_is_refused(tmp_path):
    PIL.Image.fromarray(np.full((16, 16), 0.5, np.float32)).save(tmp_path / "float.tiff")  # mode F
    with pytest.raises(ToolError, match=r"float\.tiff: a floating-point image \(mode F\) has no known range"):
        load_target_image(tmp_path / "float.tiff", 16, 3)


def test_a_missing_vgg16_is_one_sentence_about_the_projection(tiny_generator, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "cache"))
    G = tiny_generator()
    target_path = generate_images(G, [1], tmp_path)[0]
    with pytest.raises(FileNotFoundError) as err:
        project_image(G, target_path, tmp_path / "out", steps=2, loss="lpips")
    cache = re.escape(str(tmp_path / "cache"))
    assert re.fullmatch(rf"--loss lpips needs the VGG16 LPIPS network: vgg16\.pt is not in {cache} \(nor vgg16\.safetensors\) "
                        rf"and \$STYLEGAN2_OFFLINE forbids downloading it; save NVIDIA's VGG16 LPIPS network "
                        rf"https://\S+/vgg16\.pt in {cache}, or pass it with --vgg", str(err.value)), str(err.value)
    (tmp_path / "text.pkl").write_text("not a network")
    with pytest.raises(ValueError, match=r"text\.pkl: not a TorchScript file, so not NVIDIA's VGG16; use NVIDIA's "
                                         r"vgg16\.pt \(https://\S+\) or the vgg16\.safetensors"):
        project_image(G, target_path, tmp_path / "out", steps=2, vgg=tmp_path / "text.pkl")


@pytest.mark.parametrize("content, problem", [
    (b"this is not a network", "it is not a (complete) .npz archive"),
    (None, "it holds pickled Python objects, which are never loaded"),
    ("torch", "it is a PyTorch file (torch.save, as rosinality's factor.pt and projector output are), which is not read here"),
])
def test_a_projected_w_not_written_by_project_is_called_so(tiny_generator, tmp_path, content, problem):
    path = tmp_path / "w.npz"
    if content is None:
        np.savez(path, w=np.array([{"a": 1}], dtype=object))
    elif content == "torch":  # rosinality's projector.py output
        torch.save({"a.png": {"img": torch.zeros(3, 4, 4), "latent": torch.zeros(8)}}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(ToolError) as err:
        generate_images(tiny_generator(), outdir=tmp_path / "out", projected_w=path)
    assert str(err.value) == f"{path}: not an .npz written by `stylegan2 project` (--projected-w); {problem}"
    assert "allow_pickle" not in str(err.value)


def test_unreadable_target_is_named(tiny_generator, tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(ToolError, match="broken.png: cannot read as an image"):
        project_image(tiny_generator(), tmp_path / "broken.png", tmp_path, steps=2, loss="pixel")


def test_a_missing_target_is_named_before_the_vgg16_is_looked_for(tiny_generator, tmp_path, monkeypatch):
    """The VGG16 note (no file, a pixel loss instead) came before the missing target's error."""
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "empty-cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FileNotFoundError, match="nowhere.png: no such target image"):
            project_image(tiny_generator(), tmp_path / "nowhere.png", tmp_path / "out", steps=2)


def test_cli_writes_all_outputs_and_generate_renders_the_projection(network_file, tmp_path):
    net = str(network_file())
    runner = CliRunner()
    assert runner.invoke(main, ["generate", "--network", net, "--seeds", "2", "--outdir", str(tmp_path),
                                "--device", "cpu"]).exit_code == 0
    result = runner.invoke(main, ["project", "--network", net, "--target", str(tmp_path / "seed0002.png"),
                                  "--steps", "30", "--loss", "pixel", "--format", "gif", "--outdir",
                                  str(tmp_path / "proj"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "proj").iterdir())
    assert names == ["proj.gif", "proj.png", "projected_w.npz", "target.png"]
    with np.load(tmp_path / "proj" / "projected_w.npz") as data:
        assert data["w"].shape == (1, 6, 16)
    with PIL.Image.open(tmp_path / "proj" / "proj.gif") as video:
        assert video.n_frames == 30 and video.size == (32, 16)
    result = runner.invoke(main, ["generate", "--network", net, "--projected-w", str(tmp_path / "proj" / "projected_w.npz"),
                                  "--outdir", str(tmp_path / "again"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    with PIL.Image.open(tmp_path / "proj" / "proj.png") as a, PIL.Image.open(tmp_path / "again" / "proj00.png") as b:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("target, options, message", [
    (lambda t: t.astype(np.float32) / 255, {}, r"target must hold uint8 pixels \(0-255\), got float32"),
    (lambda t: torch.from_numpy(t), {}, r"target must be a uint8 numpy array \[H, W, C\], got Tensor; stylegan2.tools.load_target_image"),
    (lambda t: t, {"vgg": "vgg16.pt"}, r"vgg must be NVIDIA's VGG16 module .* got str; project_image takes a path"),
    (lambda t: t, {"config": {"num_steps": 2}}, r"config must be a ProjectionConfig, got dict"),
    (lambda t: t, {"config": ProjectionConfig(num_steps=2, w_avg_samples=0)}, r"w_avg_samples 0: must be at least 1"),
])
def test_project_names_a_wrong_argument_before_any_work(tiny_generator, target, options, message):
    """A float target was read as 0-255 and fitted a nearly black image; these failed deep inside torch."""
    G = tiny_generator()
    pixels = np.random.RandomState(0).randint(0, 256, (G.img_height, G.img_width, 3)).astype(np.uint8)
    with pytest.raises(ToolError, match=message):
        project(G, target(pixels), **options)


def test_the_advice_for_an_image_file_works_as_written(tiny_generator, tmp_path):
    """It named load_target_image(path, G), which has another signature and was not exported."""
    import stylegan2.tools

    G = tiny_generator()
    PIL.Image.fromarray(np.full((20, 20, 3), 90, np.uint8)).save(tmp_path / "me.png")
    with pytest.raises(ToolError) as err:
        project(G, PIL.Image.open(tmp_path / "me.png"))
    advice = "stylegan2.tools.load_target_image(path, G.img_resolution, G.img_channels, G.img_aspect)"
    assert advice in str(err.value)
    with pytest.warns(UserWarning, match="resized"):
        target = stylegan2.tools.load_target_image(tmp_path / "me.png", G.img_resolution, G.img_channels, G.img_aspect)
    result = project(G, target, config=stylegan2.tools.ProjectionConfig(num_steps=2, w_avg_samples=10))
    assert result.w.shape == (1, G.num_ws, G.w_dim)


def test_project_image_checks_fps_before_projecting(tiny_generator, tmp_path):
    PIL.Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "t.png")
    with pytest.raises(ToolError, match=r"^--fps 0: must be a positive number$"):
        project_image(tiny_generator(), tmp_path / "t.png", tmp_path / "out", steps=2, loss="pixel", fps=0)
    assert not (tmp_path / "out").exists()


def test_project_takes_a_network_file_as_the_other_tools_do(network_file):
    path = network_file()
    G = load_generator(path, "cpu")
    target = seed_images(G, [1])[0]
    config = ProjectionConfig(num_steps=3, w_avg_samples=10)
    a, b = project(path, target, config=config), project(G, target, config=config)
    torch.testing.assert_close(a.w, b.w)


def test_a_directory_as_the_target_is_called_one(tmp_path):
    with pytest.raises(IsADirectoryError, match=r"is a directory; give one image file as the target \(--target\)$"):
        load_target_image(tmp_path, 16, 3)


@pytest.mark.parametrize("args, said", [
    (["--target", "a.png", "--target", "b.png"],
     "--target is given 2 times; a run projects one image: run `stylegan2 project` once per image, each with its own --outdir"),
    (["--target", "a.png", "--seed", "99999999999999999999"], "Invalid value for '--seed'"),
    (["--target", "a.png", "--seed", "-1"], "Invalid value for '--seed'"),
])
def test_cli_refuses_several_targets_and_seeds_outside_the_range(network_file, tmp_path, args, said):
    """Click kept the last --target alone; a seed past int64 failed deep in torch without naming the option."""
    for name in ("a.png", "b.png"):
        PIL.Image.new("RGB", (16, 16)).save(tmp_path / name)
    result = CliRunner().invoke(main, ["project", "--network", str(network_file()), "--outdir", str(tmp_path / "out"),
                                       *[str(tmp_path / a) if a.endswith(".png") else a for a in args]])
    assert result.exit_code == 2 and said in result.output, result.output
    assert not (tmp_path / "out").exists()  # nothing was written


def test_a_tiff_over_pillows_limit_decodes_under_a_raised_limit(tmp_path, monkeypatch):
    """Pillow's TIFF reader checks its own limit again while decoding: a 200 MP TIFF failed although the raised
    $STYLEGAN2_MAX_IMAGE_PIXELS let it through the header check. Pillow's limit is left as it was."""
    PIL.Image.new("RGB", (40, 30), (200, 10, 10)).save(tmp_path / "scan.tiff")
    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 500)  # 1,200 pixels: over twice Pillow's limit
    monkeypatch.setenv("STYLEGAN2_MAX_IMAGE_PIXELS", "2000")
    with pytest.warns(UserWarning, match="center-cropped"):
        target = load_target_image(tmp_path / "scan.tiff", 16, 3)
    assert target.shape == (16, 16, 3) and target[..., 0].min() > 150
    assert PIL.Image.MAX_IMAGE_PIXELS == 500
