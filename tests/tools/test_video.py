"""`stylegan2 video`: looping interpolations, written as MP4 or GIF with the requested frame count."""

import re

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.tools import ToolError, interpolation_ws, render_video, seed_images, seed_ws, synthesize
from stylegan2.tools.files import VideoWriter, mp4_available
from stylegan2.tools.video import slerp


def gif_frames(path) -> list[np.ndarray]:
    with PIL.Image.open(path) as image:
        frames = []
        for i in range(image.n_frames):
            image.seek(i)
            frames.append(np.asarray(image.convert("RGB")))
    return frames


@pytest.mark.parametrize("space", ["z", "w"])
def test_interpolation_starts_on_the_first_seed_and_passes_every_seed(tiny_generator, space):
    G = tiny_generator()
    ws = interpolation_ws(G, [3, 4, 5], num_frames=6, space=space)
    assert ws.shape == (6, G.num_ws, G.w_dim)
    for frame, seed in [(0, 3), (2, 4), (4, 5)]:
        torch.testing.assert_close(ws[frame], seed_ws(G, seed)[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("space", ["z", "w"])
def test_a_piece_of_the_frames_has_their_ws(tiny_generator, space):
    """render_video computes ws a piece at a time, so that a long video does not hold every frame's ws."""
    G = tiny_generator()
    whole = interpolation_ws(G, [3, 4, 5], num_frames=10, space=space)
    torch.testing.assert_close(interpolation_ws(G, [3, 4, 5], 10, space, frames=range(4, 9)), whole[4:9], atol=1e-6, rtol=0)


def test_a_video_made_in_pieces_is_the_same_video(tiny_generator, tmp_path, monkeypatch):
    G = tiny_generator()
    whole = gif_frames(render_video(G, "0-3", tmp_path / "whole", frames=7, grid="2x1", video_format="gif"))
    monkeypatch.setattr("stylegan2.tools.video.WS_PER_PIECE", 3)
    pieces = gif_frames(render_video(G, "0-3", tmp_path / "pieces", frames=7, grid="2x1", video_format="gif"))
    assert len(pieces) == 7  # the same frames up to rounding (the mapping runs on other batch sizes) and the GIF palette
    assert all(np.abs(a.astype(int) - b.astype(int)).mean() < 1 for a, b in zip(whole, pieces))


def test_slerp_keeps_the_norm_between_orthogonal_vectors():
    a, b = torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 3.0]])
    mid = slerp(a, b, torch.tensor([0.5]))
    torch.testing.assert_close(mid.norm(), torch.tensor(3.0))


def test_gif_decodes_with_the_requested_frame_count_even_with_repeated_frames(tiny_generator, tmp_path):
    G = tiny_generator()
    path = render_video(G, [0, 1], tmp_path, frames=7, fps=10, video_format="gif")  # frames 3 and 4 are equal
    assert path.name == "video.gif"
    frames = gif_frames(path)
    assert len(frames) == 7
    assert frames[0].shape == (16, 16, 3)


def test_grid_video_splits_the_seeds_among_cells(tiny_generator, tmp_path):
    G = tiny_generator()
    path = render_video(G, "0-5", tmp_path, frames=3, grid="3x1", video_format="gif")
    frames = gif_frames(path)
    assert len(frames) == 3 and frames[0].shape == (16, 48, 3)
    first = synthesize(G, interpolation_ws(G, [0, 1], 3)[:1])[0]
    assert np.abs(frames[0][:, :16].astype(int) - first.astype(int)).mean() < 8  # GIF palette error only
    np.testing.assert_array_equal(seed_images(G, [0]), synthesize(G, interpolation_ws(G, [0, 1], 3)[:1]))


def test_seeds_must_split_evenly_into_the_grid(tiny_generator, tmp_path):
    with pytest.raises(ToolError, match="give at least 2 per video and a multiple of 4"):
        render_video(tiny_generator(), "0-4", tmp_path, grid="2x2", video_format="gif")


@pytest.mark.skipif(not mp4_available(), reason="imageio-ffmpeg is not installed (the `video` extra)")
def test_mp4_decodes_with_the_requested_frame_count(tiny_generator, tmp_path):
    import imageio.v2 as imageio
    path = render_video(tiny_generator(), [0, 1, 2], tmp_path, frames=9, video_format="mp4")
    with imageio.get_reader(path) as reader:
        assert sum(1 for _ in reader) == 9


def test_mp4_without_imageio_ffmpeg_names_the_extra(tiny_generator, tmp_path, monkeypatch):
    monkeypatch.setattr("stylegan2.tools.files.mp4_available", lambda: False)
    with pytest.raises(ToolError, match=r'pip install "stylegan2\[video\]"'):
        render_video(tiny_generator(), [0, 1], tmp_path, frames=2, video_format="mp4")


def test_auto_format_says_why_it_writes_a_gif(network_file, tmp_path, monkeypatch):
    """Without the video extra, `video` and `project` wrote a GIF where NVIDIA's tools write MP4, with no word."""
    monkeypatch.setattr("stylegan2.tools.files.mp4_available", lambda: False)
    result = CliRunner().invoke(main, ["video", "--network", str(network_file()), "--seeds", "0-1", "--frames", "2",
                                       "--outdir", str(tmp_path), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "note: writing an animated GIF: MP4 needs imageio and imageio-ffmpeg: pip install \"stylegan2[video]\"" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["video.gif"]


def test_a_refused_video_notes_no_gif(network_file, tmp_path, monkeypatch):
    """It noted the GIF it would write, then refused the existing one."""
    monkeypatch.setattr("stylegan2.tools.files.mp4_available", lambda: False)
    (tmp_path / "video.gif").write_bytes(b"mine")
    result = CliRunner().invoke(main, ["video", "--network", str(network_file()), "--seeds", "0-1", "--frames", "2",
                                       "--outdir", str(tmp_path), "--device", "cpu"])
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "note:" not in result.output, result.output
    assert (tmp_path / "video.gif").read_bytes() == b"mine"


def test_cli_writes_a_video_and_keeps_it_without_force(network_file, tmp_path):
    args = ["video", "--network", str(network_file()), "--seeds", "0-2", "--frames", "4", "--format", "gif",
            "--outdir", str(tmp_path), "--device", "cpu"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert len(gif_frames(tmp_path / "video.gif")) == 4
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1 and "video.gif already exists" in again.output
    assert [p.name for p in tmp_path.iterdir()] == ["video.gif"]  # no temporary file left behind


@pytest.mark.parametrize("frames", [0, -5, 2.5, "60"])
def test_a_frame_count_is_checked_before_any_work(tmp_path, frames):
    """0 was reported as the output file having no frames, after the network was loaded; 2.5 failed in range()."""
    with pytest.raises(ToolError, match=rf"^--frames {re.escape(repr(frames))}: must be a whole number >= 1$"):
        render_video(tmp_path / "missing.pkl", [0, 1], tmp_path / "out", frames=frames)
    assert not (tmp_path / "out").exists()


def test_videos_written_at_once_into_one_folder_have_temporaries_of_their_own(tmp_path):
    """A fixed temporary name (.video.partial.gif) let two writers of one folder overwrite each other's frames."""
    first, second = VideoWriter(tmp_path / "video.gif", 10), VideoWriter(tmp_path / "video.gif", 10)
    assert first.tmp != second.tmp and first.tmp.parent == tmp_path
    second.abort()
    first.append(np.zeros((4, 4, 3), np.uint8))
    assert first.close() == tmp_path / "video.gif" and sorted(p.name for p in tmp_path.iterdir()) == ["video.gif"]


@pytest.mark.parametrize("fps, delays", [(30, [30, 40, 30, 30, 40, 30]), (24, [40, 40, 40, 50, 40, 40]), (10, [100] * 6)])
def test_a_gif_lasts_as_long_as_asked(tmp_path, fps, delays):
    """GIF delays are whole hundredths of a second: each frame ends at its exact time rounded (30 fps played at
    33.3 when every delay was cut to 3 hundredths)."""
    writer = VideoWriter(tmp_path / "v.gif", fps)
    for i in range(6):
        writer.append(np.full((8, 8, 3), 40 * i, np.uint8))
    path = writer.close()
    with PIL.Image.open(path) as image:
        got = []
        for i in range(image.n_frames):
            image.seek(i)
            got.append(image.info["duration"])
    assert got == delays and abs(sum(got) - 6000 / fps) < 10


def test_a_gif_faster_than_browsers_play_is_refused(tmp_path):
    with pytest.raises(ToolError, match=r"^--fps 60: a GIF shows at most 50 frames a second"):
        VideoWriter(tmp_path / "v.gif", 60)


def test_one_seed_without_a_grid_is_told_a_loop_needs_two(tiny_generator, tmp_path):
    with pytest.raises(ToolError, match=r"^--seeds: a looping video needs at least 2 seeds, got 1$"):
        render_video(tiny_generator(), "0", tmp_path, video_format="gif")


def _save_ws(path, ws: torch.Tensor):
    np.savez(path, w=ws.detach().cpu().numpy())  # the format `stylegan2 project` writes
    return path


@pytest.mark.parametrize("psi", [1.0, 0.6])
def test_projected_ws_loop_as_their_seeds_do_in_w(tiny_generator, tmp_path, psi):
    """Keyframes from projection files, one per photo and in order, truncated as generate --projected-w truncates:
    the same video as their seeds' linear loop in w."""
    G = tiny_generator()
    G.mapping.w_avg.normal_()  # truncation must pull toward something
    files = [_save_ws(tmp_path / f"{seed}.npz", seed_ws(G, seed)) for seed in (3, 4, 5)]
    from_seeds = render_video(G, [3, 4, 5], tmp_path / "seeds", frames=6, space="w", truncation_psi=psi,
                              video_format="gif")
    from_files = render_video(G, None, tmp_path / "files", projected_w=files, frames=6, truncation_psi=psi,
                              video_format="gif")
    assert [f.tolist() for f in gif_frames(from_files)] == [f.tolist() for f in gif_frames(from_seeds)]


def test_cli_takes_projection_files_in_order(tiny_generator, network_file, tmp_path):
    net = network_file()
    G = tiny_generator()
    both = _save_ws(tmp_path / "both.npz", torch.cat([seed_ws(G, 1), seed_ws(G, 2)]))  # two ws in one file, then one
    one = _save_ws(tmp_path / "one.npz", seed_ws(G, 7))
    args = ["video", "--network", str(net), "--projected-w", str(both), "--projected-w", str(one), "--frames", "3",
            "--format", "gif", "--outdir", str(tmp_path / "out"), "--device", "cpu"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    frames = gif_frames(tmp_path / "out" / "video.gif")
    expected = [synthesize(G, seed_ws(G, seed))[0] for seed in (1, 2, 7)]  # frames 0, 1, 2 sit on the keyframes
    assert all(np.abs(f.astype(int) - e.astype(int)).mean() < 2 for f, e in zip(frames, expected))  # GIF palette


@pytest.mark.parametrize("kwargs, message", [
    (dict(space="z"), r"^--space z: projected ws have no z; they are interpolated linearly in w"),
    (dict(class_idx=0), r"^--class 0 picks the class of seeds' latents; a projected w holds its class already"),
    (dict(), r"^--projected-w: a looping video needs at least 2 ws, got 1 \(pass --projected-w once per file, in order\)$"),
    (dict(grid="2x1"), r"^--projected-w: 1 w\(s\) for 2 video\(s\) in the grid; give at least 2 per video"),
])
def test_projection_files_that_cannot_make_the_video_are_refused(tiny_generator, tmp_path, kwargs, message):
    G = tiny_generator()
    path = _save_ws(tmp_path / "w.npz", seed_ws(G, 1))
    with pytest.raises(ToolError, match=message):
        render_video(G, None, tmp_path / "out", projected_w=path, video_format="gif", **kwargs)
    assert not (tmp_path / "out").exists()


def test_seeds_and_projection_files_are_one_or_the_other(tiny_generator, tmp_path):
    for seeds, files in (("0-1", tmp_path / "w.npz"), (None, None)):
        with pytest.raises(ToolError, match=r"^give either --seeds or --projected-w \(exactly one of them\)$"):
            render_video(tiny_generator(), seeds, tmp_path, projected_w=files)
