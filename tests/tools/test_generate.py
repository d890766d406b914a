"""`stylegan2 generate`: images from seeds, truncation, grids, saved ws, classes, and safe outputs."""

import os
import re
import time

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.io import save_checkpoint
from stylegan2.tools import ToolError, generate_images, load_generator, render_video, seed_images, seed_ws, synthesize
from stylegan2.utils.image import image_grid


def read_png(path) -> np.ndarray:
    with PIL.Image.open(path) as image:
        return np.asarray(image)


def test_a_seed_gives_the_same_image_on_every_call_and_with_other_seeds(tiny_generator):
    G = tiny_generator()
    alone = seed_images(G, [5])
    together = seed_images(G, [3, 5, 9])
    np.testing.assert_array_equal(alone[0], together[1])
    np.testing.assert_array_equal(seed_images(G, [5]), alone)
    assert not np.array_equal(together[0], together[1])


def test_random_noise_is_reproducible_per_seed(tiny_generator):
    G = tiny_generator(noise_strength=0.5)
    first = seed_images(G, [2], noise_mode="random")
    np.testing.assert_array_equal(seed_images(G, [2], noise_mode="random"), first)
    assert not np.array_equal(seed_images(G, [2], noise_mode="const"), first)


def test_cli_and_python_write_the_same_images_for_nvidias_network(official_pkl, tmp_path):
    result = CliRunner().invoke(main, ["generate", "--network", str(official_pkl), "--seeds", "0,7", "--trunc", "0.7",
                                       "--outdir", str(tmp_path / "cli"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    paths = generate_images(official_pkl, [0, 7], tmp_path / "py", truncation_psi=0.7, device="cpu")
    assert [p.name for p in paths] == ["seed0000.png", "seed0007.png"]
    for path in paths:
        np.testing.assert_array_equal(read_png(tmp_path / "cli" / path.name), read_png(path))


def test_seed_images_follow_nvidias_recipe(official_pkl):
    from stylegan2.tools import load_generator
    G = load_generator(official_pkl, "cpu")
    z = torch.from_numpy(np.random.RandomState(3).randn(1, G.z_dim))
    with torch.no_grad():
        img = G(z, None, truncation_psi=0.5, noise_mode="const")
    expected = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy()
    np.testing.assert_array_equal(seed_images(G, [3], truncation_psi=0.5), expected)


def test_truncation_zero_gives_the_w_avg_image(tiny_generator):
    G = tiny_generator()
    w_avg_image = synthesize(G, G.mapping.w_avg.expand(1, G.num_ws, G.w_dim))
    for seed in (0, 1):
        np.testing.assert_array_equal(seed_images(G, [seed], truncation_psi=0), w_avg_image)


def test_truncation_cutoff_keeps_the_fine_layers(tiny_generator):
    G = tiny_generator()
    cut = seed_images(G, [0, 1], truncation_psi=0, truncation_cutoff=2)
    assert not np.array_equal(cut[0], cut[1])
    with pytest.raises(ToolError, match=r"^--trunc-cutoff 7 is out of range"):
        seed_images(G, [0], truncation_cutoff=7)


def test_grid_places_seeds_row_by_row(tiny_generator, tmp_path):
    G = tiny_generator()
    with pytest.warns(UserWarning, match=r"^--grid 3x2 has 6 cells for 5 images: the rest \(1\) stay black$"):
        (path,) = generate_images(G, "0-4", tmp_path, grid="3x2")
    grid = read_png(path)
    assert grid.shape == (32, 48, 3)
    images = seed_images(G, "0-4")
    np.testing.assert_array_equal(grid[16:32, 0:16], images[3])
    np.testing.assert_array_equal(grid[16:32, 32:48], 0)  # the sixth cell is empty


def test_a_grid_is_the_same_image_as_the_seed_images_tiled(tiny_generator, tmp_path):
    """The grid is filled one rendered image at a time; its pixels are those of the images rendered at once."""
    G = tiny_generator()
    (path,) = generate_images(G, "0-5", tmp_path, grid="3x2")
    np.testing.assert_array_equal(read_png(path), image_grid(seed_images(G, "0-5"), 3, 2))


def test_each_image_is_written_before_the_next_is_rendered(tiny_generator, tmp_path, monkeypatch):
    """A Ctrl-C (or an out-of-memory kill) keeps the images already rendered; they were held until the last seed."""
    G = tiny_generator()
    expected = seed_images(G, "0-4")
    rendered = []

    def interrupted_on_the_third(*args, **kwargs):
        if len(rendered) == 2:
            raise KeyboardInterrupt
        rendered.append(synthesize(*args, **kwargs))
        return rendered[-1]
    monkeypatch.setattr("stylegan2.tools.generate.synthesize", interrupted_on_the_third)
    with pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning) as said:
        generate_images(G, "0-4", tmp_path)
    assert str(said[-1].message) == (f"interrupted: wrote seed0000.png to seed0001.png (2 of 5) to {tmp_path}; "
                                     "the rest: --seeds 2-4")  # a rerun of the same --seeds is refused: they exist
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed0000.png", "seed0001.png"]
    for seed in (0, 1):
        np.testing.assert_array_equal(read_png(tmp_path / f"seed{seed:04d}.png"), expected[seed])


@pytest.mark.parametrize("grid, fits", [("100x100", "2x2"), ("2x3", "2x2"), ("8x1", "4x1"), ("1x9", "1x4"),
                                        ("2x1", "4x1"), ("1x1", "4x1")])
def test_a_grid_with_an_empty_row_or_too_few_cells_is_refused_naming_one_that_fits(tiny_generator, tmp_path, grid, fits):
    """A typo such as 100x100 allocated a canvas of black cells (gigabytes, or a traceback when it did not fit)."""
    cols, rows = (int(n) for n in grid.split("x"))
    with pytest.raises(ToolError, match=rf"^--grid {grid} has {cols * rows:,} cells? for 4 images; use {fits}$"):
        generate_images(tiny_generator(), "0-3", tmp_path, grid=grid)
    assert list(tmp_path.iterdir()) == []


def test_a_grid_that_does_not_fit_in_memory_is_one_line(tiny_generator, tmp_path, monkeypatch):
    def no_memory(*args):
        raise MemoryError
    monkeypatch.setattr("stylegan2.tools.generate.GridCanvas", no_memory)
    with pytest.raises(ToolError, match=r"^--grid 2x2: its 32x32 px image does not fit in memory; use a smaller grid"):
        generate_images(tiny_generator(), "0-3", tmp_path, grid="2x2")


def test_the_command_draws_no_progress_bar_into_a_log(network_file, tmp_path):
    result = CliRunner().invoke(main, ["generate", "--network", str(network_file()), "--seeds", "0-2",
                                       "--outdir", str(tmp_path), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "\r" not in result.output and result.output == f"wrote 3 image(s) to {tmp_path}\n"


def test_grayscale_networks_write_grayscale_pngs(tiny_generator, tmp_path):
    (path,) = generate_images(tiny_generator(img_channels=1), [0], tmp_path)
    with PIL.Image.open(path) as image:
        assert image.mode == "L"


def test_projected_w_renders_the_saved_ws(tiny_generator, tmp_path):
    G = tiny_generator()
    with torch.no_grad():
        ws = G.mapping(torch.randn(2, 16), None)  # [2, num_ws, w_dim]
    np.savez(tmp_path / "w.npz", w=ws.numpy())
    paths = generate_images(G, outdir=tmp_path / "out", projected_w=tmp_path / "w.npz")
    assert [p.name for p in paths] == ["proj00.png", "proj01.png"]
    np.testing.assert_array_equal(read_png(paths[1]), synthesize(G, ws[1:])[0])


def test_a_conditional_networks_projected_w_needs_no_class(tiny_generator, tmp_path):
    """The w holds its class; --class is refused with it, so it must not be required either."""
    G = tiny_generator(c_dim=3)
    ws = seed_ws(G, 4, class_idx=2).detach()
    np.savez(tmp_path / "w.npz", w=ws.numpy())
    (path,) = generate_images(G, outdir=tmp_path / "out", projected_w=tmp_path / "w.npz")
    np.testing.assert_array_equal(read_png(path), synthesize(G, ws)[0])
    video = render_video(G, None, tmp_path / "video", projected_w=[tmp_path / "w.npz"] * 2, frames=2, video_format="gif")
    assert video.is_file()


def test_projected_ws_are_truncated_as_seeds_are(tiny_generator, tmp_path):
    """Pulling a projected photo toward the average w (the coarse ws only, with a cutoff) is an everyday edit."""
    G = tiny_generator()
    with torch.no_grad():
        G.mapping.w_avg.copy_(torch.randn(G.w_dim))
        z = torch.randn(1, 16)
        np.savez(tmp_path / "w.npz", w=G.mapping(z, None).numpy())
        truncated = G.mapping(z, None, truncation_psi=0.5, truncation_cutoff=2)
    (path,) = generate_images(G, outdir=tmp_path / "out", projected_w=tmp_path / "w.npz", truncation_psi=0.5,
                              truncation_cutoff=2)
    np.testing.assert_array_equal(read_png(path), synthesize(G, truncated)[0])
    with pytest.raises(ToolError, match=r"^--class 1 picks the class of seeds' latents; a projected w holds its class"):
        generate_images(G, outdir=tmp_path / "o2", projected_w=tmp_path / "w.npz", class_idx=1)


def test_projected_w_of_another_network_is_rejected(tiny_generator, tmp_path):
    np.savez(tmp_path / "w.npz", w=np.zeros([1, 18, 512], np.float32))
    with pytest.raises(ToolError, match=r"needs \[N, 6, 16\]"):
        generate_images(tiny_generator(), outdir=tmp_path, projected_w=tmp_path / "w.npz")


def test_a_projected_w_with_nan_is_refused_not_rendered_black(tiny_generator, tmp_path):
    np.savez(tmp_path / "w.npz", w=np.full([1, 6, 16], np.nan, np.float32))
    with pytest.raises(ToolError, match=r"w\.npz: w holds NaN or infinite values \(a projection that diverged\?\)"):
        generate_images(tiny_generator(), outdir=tmp_path / "out", projected_w=tmp_path / "w.npz")


def test_a_projected_w_file_is_checked_before_numpy_allocates_and_unused_arrays_are_not_read(tiny_generator, tmp_path,
                                                                                                monkeypatch):
    """A forged .npy header gave a traceback from NumPy (2 TiB asked for); a deflated array beside w was inflated."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (100000, 100000, 64)})
    with zipfile.ZipFile(tmp_path / "forged.npz", "w") as archive:
        archive.writestr("w.npy", header.getvalue() + b"\0" * 64)
    with pytest.raises(ToolError, match=r"forged\.npz/w\.npy: its header declares 2,560,000,000,000 bytes but the entry "
                                        r"holds 64; the file is corrupt or crafted \(--projected-w\)$"):
        generate_images(tiny_generator(), outdir=tmp_path / "out", projected_w=tmp_path / "forged.npz")
    np.savez_compressed(tmp_path / "padded.npz", w=np.zeros([1, 6, 16], np.float32), pad=np.zeros(10**6, np.float32))
    read = []
    real_read_array = np.lib.format.read_array
    monkeypatch.setattr(np.lib.format, "read_array", lambda file, *a, **k: read.append(1) or real_read_array(file, *a, **k))
    generate_images(tiny_generator(), outdir=tmp_path / "out2", projected_w=tmp_path / "padded.npz")
    assert len(read) == 1  # w alone


def test_conditional_network_without_class_says_so(network_file, tmp_path):
    result = CliRunner().invoke(main, ["generate", "--network", str(network_file(c_dim=4)), "--seeds", "0",
                                       "--outdir", str(tmp_path), "--device", "cpu"])
    assert result.exit_code != 0
    assert "conditional with 4 classes: choose one with --class 0..3" in result.output


def test_conditional_network_draws_the_requested_class(tiny_generator):
    G = tiny_generator(c_dim=4)
    assert not np.array_equal(seed_images(G, [0], class_idx=0), seed_images(G, [0], class_idx=1))


def test_existing_outputs_are_kept_without_force(tiny_generator, tmp_path):
    G = tiny_generator()
    (tmp_path / "seed0001.png").write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="seed0001.png already exists; .*; or pass --force"):
        generate_images(G, "0-2", tmp_path)
    assert (tmp_path / "seed0001.png").read_bytes() == b"mine"
    assert not (tmp_path / "seed0000.png").exists()  # checked before any image was written
    generate_images(G, "0-2", tmp_path, force=True)
    assert read_png(tmp_path / "seed0001.png").shape == (16, 16, 3)


def test_a_users_hidden_file_in_the_outdir_is_never_swept_as_a_temporary(tiny_generator, tmp_path):
    """A hidden `.notes.20261207.tmp` has the older temporary form; the sweep of --outdir deleted it."""
    notes = tmp_path / ".notes.20261207.tmp"
    notes.write_text("my notes")
    os.utime(notes, (time.time() - 3600, time.time() - 3600))
    generate_images(tiny_generator(), "0", tmp_path)
    assert notes.read_text() == "my notes"


def test_a_dangling_link_at_an_output_name_is_named_and_only_force_replaces_it(tiny_generator, tmp_path):
    """It was reported as a file that appeared mid-command, and the suggested rerun failed the same way."""
    link = tmp_path / "seed0001.png"
    link.symlink_to(tmp_path / "gone" / "x.png")
    with pytest.raises(FileExistsError, match=r"seed0001.png is a symbolic link to .*x.png, which does not exist; remove "
                                              r"the link, pass --force to replace it \(its target is left alone\)"):
        generate_images(tiny_generator(), "1", tmp_path)
    with pytest.raises(FileExistsError, match=r"seed0001.png is a symbolic link"):  # not "write only the missing --seeds 0",
        generate_images(tiny_generator(), "0-1", tmp_path)                           # which would leave the link standing
    generate_images(tiny_generator(), "1", tmp_path, force=True)
    assert not link.is_symlink() and read_png(link).shape == (16, 16, 3) and not (tmp_path / "gone").exists()


def test_cli_reports_bad_seed_ranges_without_a_traceback(network_file, tmp_path):
    result = CliRunner().invoke(main, ["generate", "--network", str(network_file()), "--seeds", "5-2"])
    assert result.exit_code == 2
    assert "range '5-2' runs backwards; write it as 2-5" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["generate", "--seeds", "0", "--outdir"], ["metrics", "--run-dir"], ["export", "--output"]])
@pytest.mark.parametrize("psi", ["nan", "inf", "-inf"])
def test_cli_refuses_a_truncation_psi_that_is_not_a_number(network_file, tmp_path, command, psi):
    """float() reads 'nan' and 'inf'; the images would be black."""
    out = tmp_path / "out.pt" if command[0] == "export" else tmp_path
    result = CliRunner().invoke(main, [*command, str(out), "--network", str(network_file()), "--trunc", psi])
    assert result.exit_code == 2 and f"'{psi}' is not a finite number" in result.output, result.output
    assert list(tmp_path.iterdir()) == []


def test_a_directory_given_as_the_network_is_called_one(tmp_path):
    result = CliRunner().invoke(main, ["generate", "--network", str(tmp_path), "--seeds", "0", "--outdir", str(tmp_path / "out")])
    assert result.exit_code != 0 and "is a directory; give the path of a checkpoint file" in result.output, result.output


def test_seeds_and_projected_w_are_exclusive(tiny_generator, tmp_path):
    with pytest.raises(ToolError, match="either --seeds or --projected-w"):
        generate_images(tiny_generator(), [0], tmp_path, projected_w=tmp_path / "w.npz")


def test_seed_images_takes_a_network_file_as_the_other_tools_do(network_file):
    path = network_file(seed=3)
    np.testing.assert_array_equal(seed_images(path, [4], noise_mode="const"),
                                  seed_images(load_generator(path, "cpu"), [4], noise_mode="const"))
    with pytest.raises(ToolError, match=r"got a dict of networks; pass one of them, e.g. nets\['G_ema'\]"):
        seed_images({"G_ema": None}, [0])


def test_a_direction_index_or_strength_without_directions_is_refused(tiny_generator, tmp_path):
    """They were ignored without a word: the images were the plain seeds'."""
    with pytest.raises(ToolError, match=r"^index 2 and strength 3 move along directions; pass directions=load_directions"):
        seed_images(tiny_generator(), [0], index=2, strength=3)
    with pytest.raises(ToolError, match=r"^--strength 2 without --direction: give the directions file to move along"):
        generate_images(tiny_generator(), [0], tmp_path, strength=2.0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("psi", ["abc", None])
def test_truncation_psi_is_checked_before_the_network_is_loaded(tmp_path, psi):
    """It failed in float() once the network was loaded (or a missing file was named first)."""
    with pytest.raises(ToolError, match=r"^--trunc: truncation_psi must be a finite number"):
        generate_images(tmp_path / "missing.pkl", [0], tmp_path / "out", truncation_psi=psi)


def test_an_outdir_that_cannot_be_made_is_refused_before_rendering(tiny_generator, tmp_path, monkeypatch):
    """Found after rendering, as mkdir's FileExistsError or PermissionError; the file is kept."""
    (tmp_path / "g.safetensors").write_bytes(b"mine")
    with pytest.raises(ToolError, match=r"^--outdir \S+sub: cannot write the outputs there \(\S+g.safetensors is a file, so "
                                        r"no folder can be made there\); choose another --outdir$"):
        generate_images(tiny_generator(), [5], tmp_path / "g.safetensors" / "sub")
    assert (tmp_path / "g.safetensors").read_bytes() == b"mine"
    monkeypatch.setattr("os.access", lambda path, mode: str(path) != str(tmp_path))  # tests may run as root
    with pytest.raises(ToolError, match=rf"\(no write permission in {re.escape(str(tmp_path))}\); choose another --outdir$"):
        generate_images(tiny_generator(), [5], tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_a_network_file_with_nan_weights_is_warned_about_not_silently_black(tmp_path, tiny_generator):
    G = tiny_generator()
    with torch.no_grad():
        G.synthesis.b4.conv1.weight[0, 0, 0, 0] = float("nan")
    save_checkpoint(tmp_path / "nan.safetensors", {"G_ema": G})
    with pytest.warns(UserWarning, match=r"nan\.safetensors: 1 tensor holds NaN or Inf values \(G_ema\.synthesis\.b4\.conv1"
                                         r"\.weight\); the network will produce NaN images"):
        load_generator(tmp_path / "nan.safetensors")


def test_an_outdir_given_as_opt_equals_tilde_is_expanded(tmp_path, monkeypatch, network_file):
    """The shell leaves `--outdir=~/x` alone: it went to a folder named '~' in the working directory."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["generate", f"--network={network_file()}", "--seeds=0", "--outdir=~/out", "--device=cpu"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "home" / "out" / "seed0000.png").is_file() and not (tmp_path / "~").exists()


def test_random_noise_images_are_the_seeds_own_from_any_thread(tiny_generator):
    """A web service renders in threads; the noise comes from torch's global generators, which threads share."""
    import threading

    G = tiny_generator(noise_strength=0.5)
    seeds = list(range(12))
    alone = seed_images(G, seeds, noise_mode="random")
    results: dict[int, np.ndarray] = {}

    def render(index: int) -> None:
        results[index] = np.stack([seed_images(G, [seed], noise_mode="random")[0] for seed in seeds])

    threads = [threading.Thread(target=render, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for images in results.values():
        np.testing.assert_array_equal(images, alone)
