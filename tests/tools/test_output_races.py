"""The tools' outputs when another command writes the same names meanwhile, the disk fills, or a run stopped early."""

import errno
import importlib
import os
import time

import numpy as np
import PIL.Image
import pytest

from stylegan2.tools import ToolError, export_generator, find_directions, generate_images, project_image, render_video, style_mix
from stylegan2.tools import files as tool_files
from stylegan2.tools import generate as generate_module
from stylegan2.tools import video as video_module
from stylegan2.tools.files import GifStream, VideoWriter, save_npz
from stylegan2.utils.files import OutputAppearedError

project_module = importlib.import_module("stylegan2.tools.project")  # the package's `project` is the function
NO_SPACE = OSError(errno.ENOSPC, "No space left on device")  # as a write to an open file on a full disk says it


def names(folder):
    return sorted(p.name for p in folder.iterdir())


def full_disk_at(call: int, real):
    """`real`, failing with NO_SPACE on its `call`-th call (1-based)."""
    calls = []

    def write(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise NO_SPACE
        return real(*args, **kwargs)
    return write


def another_command_writes_seed(monkeypatch, folder, seed: int) -> None:
    """While generate renders `seed`, another command writes that seed's image into `folder`."""
    real = generate_module.synthesize

    def synthesize(G, ws, noise_mode, noise_seed=0):
        if noise_seed == seed:
            (folder / f"seed{seed:04d}.png").write_bytes(b"theirs")
        return real(G, ws, noise_mode, noise_seed=noise_seed)
    monkeypatch.setattr(generate_module, "synthesize", synthesize)


def test_generate_leaves_an_image_that_appeared_meanwhile_and_says_which_seeds_it_wrote(tiny_generator, tmp_path,
                                                                                           monkeypatch):
    """Two generate runs into one --outdir mixed two networks' images, both saying they wrote all of them."""
    another_command_writes_seed(monkeypatch, tmp_path, 2)
    with pytest.raises(ToolError) as caught:
        generate_images(tiny_generator(), "0-4", tmp_path)
    assert str(caught.value) == (f"{tmp_path / 'seed0002.png'} appeared while this command ran (another command?); "
                                 f"nothing was overwritten; wrote seed0000.png to seed0001.png (2 of 5) to {tmp_path}; "
                                 "the rest: --seeds 3-4")  # seed 2 is the other command's now
    assert (tmp_path / "seed0002.png").read_bytes() == b"theirs"
    assert names(tmp_path) == ["seed0000.png", "seed0001.png", "seed0002.png"]  # no temporary left


def test_generate_that_meets_its_first_image_written_meanwhile_names_the_seeds_still_to_write(tiny_generator, tmp_path,
                                                                                                 monkeypatch):
    """A race lost at the first seed said that nothing was written, but not which --seeds to run for the rest."""
    another_command_writes_seed(monkeypatch, tmp_path, 3)
    with pytest.raises(ToolError) as caught:
        generate_images(tiny_generator(), "3-6,9", tmp_path)
    assert str(caught.value) == (f"{tmp_path / 'seed0003.png'} appeared while this command ran (another command?); "
                                 "nothing was overwritten; none of the 5 images was written; the rest: --seeds 4-6,9")
    assert names(tmp_path) == ["seed0003.png"]


def test_generate_of_one_seed_that_meets_it_written_meanwhile_offers_no_rest(tiny_generator, tmp_path, monkeypatch):
    another_command_writes_seed(monkeypatch, tmp_path, 3)
    with pytest.raises(ToolError) as caught:
        generate_images(tiny_generator(), [3], tmp_path)
    assert str(caught.value).endswith("nothing was overwritten; nothing was written")


def test_generate_that_meets_its_last_image_written_meanwhile_offers_no_rest(tiny_generator, tmp_path, monkeypatch):
    another_command_writes_seed(monkeypatch, tmp_path, 2)
    with pytest.raises(ToolError) as caught:
        generate_images(tiny_generator(), "0-2", tmp_path)
    assert str(caught.value).endswith(f"wrote seed0000.png to seed0001.png (2 of 3) to {tmp_path}")


def test_generate_with_force_replaces_an_image_that_appeared_meanwhile(tiny_generator, tmp_path, monkeypatch):
    another_command_writes_seed(monkeypatch, tmp_path, 1)
    generate_images(tiny_generator(), "0-2", tmp_path, force=True)
    with PIL.Image.open(tmp_path / "seed0001.png") as image:
        assert image.size == (16, 16)


def test_generate_on_a_full_disk_names_the_file_and_the_seeds_to_finish_with(tiny_generator, tmp_path, monkeypatch):
    monkeypatch.setattr(PIL.Image.Image, "save", full_disk_at(3, PIL.Image.Image.save))
    with pytest.raises(ToolError) as caught:
        generate_images(tiny_generator(), "10-14", tmp_path)
    assert str(caught.value) == (f"could not write {tmp_path / 'seed0012.png'}: No space left on device; wrote "
                                 f"seed0010.png to seed0011.png (2 of 5) to {tmp_path}; the rest: --seeds 12-14")
    assert names(tmp_path) == ["seed0010.png", "seed0011.png"]


def test_a_rerun_after_a_stopped_run_names_the_missing_seeds(tiny_generator, tmp_path):
    G = tiny_generator()
    generate_images(G, "3-5", tmp_path)
    with pytest.raises(FileExistsError) as caught:
        generate_images(G, "0-9", tmp_path)
    assert str(caught.value) == (f"{tmp_path / 'seed0003.png'} already exists (and 2 more); to write only the 7 "
                                 "missing images: --seeds 0-2,6-9; or pass --force to overwrite, or choose another --outdir")
    generate_images(G, "0-2,6-9", tmp_path)
    assert len(names(tmp_path)) == 10


def test_mix_on_a_full_disk_names_the_file_and_keeps_the_earlier_figure(tiny_generator, tmp_path, monkeypatch):
    (tmp_path / "stylemix.png").write_bytes(b"earlier")
    monkeypatch.setattr(PIL.Image.Image, "save", full_disk_at(1, PIL.Image.Image.save))
    with pytest.raises(ToolError) as caught:
        style_mix(tiny_generator(), "0-1", "2-3", tmp_path, force=True)
    assert str(caught.value) == (f"could not write {tmp_path / 'stylemix.png'}: No space left on device; the earlier "
                                 "stylemix.png is unchanged")
    assert names(tmp_path) == ["stylemix.png"] and (tmp_path / "stylemix.png").read_bytes() == b"earlier"


@pytest.fixture
def target(tiny_generator, tmp_path):
    """A target image the tiny network can make, outside the --outdir."""
    return generate_images(tiny_generator(), [7], tmp_path / "targets")[0]


def project_files(outdir):
    return {name: (outdir / name).read_bytes() for name in names(outdir)}


def test_project_leaves_a_set_that_appeared_meanwhile_and_keeps_none_of_its_own(tiny_generator, target, tmp_path,
                                                                             monkeypatch):
    """Two project runs into the default --outdir: the later one's outputs replaced the first's without a word."""
    outdir = tmp_path / "out"
    real = project_module.project

    def another_command_writes_proj_png(*args, **kwargs):
        result = real(*args, **kwargs)
        outdir.mkdir()
        (outdir / "proj.png").write_bytes(b"theirs")
        return result
    monkeypatch.setattr(project_module, "project", another_command_writes_proj_png)
    with pytest.raises(ToolError, match=rf"^{outdir / 'proj.png'} appeared while this command ran \(another command\?\); "
                                        "nothing was overwritten; this command's output was not kept$"):
        project_image(tiny_generator(), target, outdir, steps=2, loss="pixel", video_format="gif")
    assert project_files(outdir) == {"proj.png": b"theirs"}


def test_project_force_on_a_full_disk_keeps_the_earlier_set_whole(tiny_generator, target, tmp_path, monkeypatch):
    """target.png and proj.png were the new target's and projected_w.npz still the old one's."""
    outdir = tmp_path / "out"
    project_image(tiny_generator(), target, outdir, steps=2, loss="pixel", video_format="gif")
    earlier = project_files(outdir)
    other = generate_images(tiny_generator(), [8], tmp_path / "targets")[0]
    monkeypatch.setattr(project_module, "write_npz", full_disk_at(1, tool_files.write_npz))
    with pytest.raises(ToolError) as caught:
        project_image(tiny_generator(), other, outdir, steps=2, loss="pixel", video_format="gif", force=True)
    assert str(caught.value) == (f"could not write {outdir / 'projected_w.npz'}: No space left on device; the earlier "
                                 "target.png, proj.png, projected_w.npz, proj.gif are unchanged")
    assert project_files(outdir) == earlier


def test_directions_on_a_full_disk_names_the_file_and_leaves_no_empty_folder(tiny_generator, tmp_path, monkeypatch):
    outdir = tmp_path / "dir"
    monkeypatch.setattr("stylegan2.tools.directions.write_npz", full_disk_at(1, tool_files.write_npz))
    with pytest.raises(ToolError) as caught:
        find_directions(tiny_generator(), outdir, strips=2)
    assert str(caught.value) == f"could not write {outdir / 'directions.npz'}: No space left on device; nothing was written"
    assert not outdir.exists()


def test_export_on_a_full_disk_names_the_file(tiny_generator, tmp_path, monkeypatch):
    def full_disk(module, inputs, path):
        with open(path, "wb") as f:
            f.write(b"half a graph")
        raise NO_SPACE
    monkeypatch.setattr("stylegan2.tools.export._export_torchscript", full_disk)
    output = tmp_path / "g.torchscript.pt"
    with pytest.raises(ToolError) as caught:
        export_generator(tiny_generator(), output, format="torchscript")
    assert str(caught.value) == f"could not write {output}: No space left on device; nothing was written"
    assert names(tmp_path) == []


def test_save_npz_leaves_a_file_that_appeared_meanwhile(tmp_path, monkeypatch):
    path = tmp_path / "projected_w.npz"
    real = tool_files.write_npz

    def and_another_command_writes_it(tmp, arrays):
        real(tmp, arrays)
        path.write_bytes(b"theirs")
    monkeypatch.setattr(tool_files, "write_npz", and_another_command_writes_it)
    with pytest.raises(OutputAppearedError, match="projected_w.npz appeared while this command ran"):
        save_npz(path, replace=False, w=np.zeros([1, 6, 16], np.float32))
    assert names(tmp_path) == ["projected_w.npz"] and path.read_bytes() == b"theirs"


def test_video_keeps_a_file_that_appeared_meanwhile_and_its_own_beside_it(tiny_generator, tmp_path, monkeypatch):
    real = video_module.synthesize
    path = tmp_path / "video.gif"

    def another_command_writes_the_video(*args, **kwargs):
        path.write_bytes(b"theirs")
        return real(*args, **kwargs)
    monkeypatch.setattr(video_module, "synthesize", another_command_writes_the_video)
    with pytest.raises(ToolError, match=rf"^{path} appeared while this command ran \(another command\?\); nothing was "
                                        rf"overwritten; this command's output is kept as {tmp_path / 'video-1.gif'}$"):
        render_video(tiny_generator(), "0-1", tmp_path, frames=3, video_format="gif")
    assert names(tmp_path) == ["video-1.gif", "video.gif"] and path.read_bytes() == b"theirs"
    with PIL.Image.open(tmp_path / "video-1.gif") as video:
        assert video.n_frames == 3


def test_video_on_a_full_disk_names_the_file_and_leaves_no_temporary(tiny_generator, tmp_path, monkeypatch):
    """Finishing the GIF failed on the full disk before its temporary was removed."""
    def full_disk(self):
        self.file.close()
        raise NO_SPACE
    monkeypatch.setattr(GifStream, "close", full_disk)
    with pytest.raises(ToolError) as caught:
        render_video(tiny_generator(), "0-1", tmp_path, frames=3, video_format="gif")
    assert str(caught.value) == f"could not write {tmp_path / 'video.gif'}: No space left on device; nothing was written"
    assert names(tmp_path) == []


def test_an_aborted_video_removes_its_temporary_when_finishing_the_stream_fails(tmp_path, monkeypatch):
    writer = VideoWriter(tmp_path / "video.gif", 10)
    writer.append(np.zeros((4, 4, 3), np.uint8))
    monkeypatch.setattr(writer.file.stream.file, "write", lambda data: (_ for _ in ()).throw(NO_SPACE))
    writer.abort()
    assert names(tmp_path) == []


def test_a_tool_sweeps_stale_temporaries_from_its_outdir(tiny_generator, tmp_path):
    """A command killed while writing left `.seed0000.png.<pid>.<hex>.tmp.png` behind for good."""
    stale = tmp_path / f".seed0000.png.{2**22 + 7}.0123abcd.tmp.png"  # a writer that no longer runs, an hour ago
    young = tmp_path / f".seed0001.png.{2**22 + 7}.0123abcd.tmp.png"  # may still be written
    for path in (stale, young):
        path.write_bytes(b"half")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    generate_images(tiny_generator(), [5], tmp_path)
    assert names(tmp_path) == [young.name, "seed0005.png"]
