"""mix, video, generate and export that fail to write remove the new, empty --outdir (export: --output's folder) they
made for their output (as directions does); a folder that existed before, or holds anything, stays."""

import errno

import PIL.Image
import pytest

from stylegan2.tools import ToolError, export_generator, generate_images, render_video, style_mix
from stylegan2.tools.files import GifStream

NO_SPACE = OSError(errno.ENOSPC, "No space left on device")


def test_mix_on_a_full_disk_removes_the_outdir_it_made(tiny_generator, tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise NO_SPACE
    monkeypatch.setattr(PIL.Image.Image, "save", full_disk)
    outdir = tmp_path / "new" / "mix"
    with pytest.raises(ToolError, match="No space left on device; nothing was written$"):
        style_mix(tiny_generator(), "0-1", "2-3", outdir)
    assert list(tmp_path.iterdir()) == []


def test_video_on_a_full_disk_removes_the_outdir_it_made(tiny_generator, tmp_path, monkeypatch):
    def full_disk(self):
        self.file.close()
        raise NO_SPACE
    monkeypatch.setattr(GifStream, "close", full_disk)
    outdir = tmp_path / "new" / "video"
    with pytest.raises(ToolError, match="No space left on device; nothing was written$"):
        render_video(tiny_generator(), "0-1", outdir, frames=3, video_format="gif")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_video_keeps_a_folder_that_already_existed(tiny_generator, tmp_path, monkeypatch):
    def full_disk(self):
        self.file.close()
        raise NO_SPACE
    monkeypatch.setattr(GifStream, "close", full_disk)
    (tmp_path / "mine").mkdir()
    with pytest.raises(ToolError):
        render_video(tiny_generator(), "0-1", tmp_path / "mine", frames=3, video_format="gif")
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]


def test_generate_whose_first_image_fails_removes_the_outdir_it_made(tiny_generator, tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise NO_SPACE
    monkeypatch.setattr(PIL.Image.Image, "save", full_disk)
    for grid in (None, "2x1"):
        with pytest.raises(ToolError, match="No space left on device; "):
            generate_images(tiny_generator(), "0-1", tmp_path / "new" / "images", grid=grid)
        assert list(tmp_path.iterdir()) == []


def test_generate_interrupted_before_its_first_image_removes_the_outdir_it_made(tiny_generator, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(PIL.Image.Image, "save", interrupted)
    with pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning, match="interrupted: none of the 2 images"):
        generate_images(tiny_generator(), "0-1", tmp_path / "new")
    assert list(tmp_path.iterdir()) == []


def full_disk_at(call: int):
    """PIL's save, failing with NO_SPACE on its `call`-th call (1-based)."""
    real, calls = PIL.Image.Image.save, []

    def save(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise NO_SPACE
        return real(*args, **kwargs)
    return save


def test_a_failed_generate_keeps_a_folder_that_already_existed(tiny_generator, tmp_path, monkeypatch):
    (tmp_path / "mine").mkdir()
    monkeypatch.setattr(PIL.Image.Image, "save", full_disk_at(1))
    with pytest.raises(ToolError, match="none of the 2 images was written"):
        generate_images(tiny_generator(), "0-1", tmp_path / "mine")
    assert [p.name for p in tmp_path.iterdir()] == ["mine"] and list((tmp_path / "mine").iterdir()) == []


def test_a_new_outdir_that_holds_the_images_written_before_the_failure_stays(tiny_generator, tmp_path, monkeypatch):
    monkeypatch.setattr(PIL.Image.Image, "save", full_disk_at(2))
    with pytest.raises(ToolError, match="wrote seed0000.png"):
        generate_images(tiny_generator(), "0-1", tmp_path / "new")
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["seed0000.png"]


def torchscript_export_fails(monkeypatch, error: BaseException) -> None:
    """The TorchScript writer starts its file, then fails with `error`."""
    def failing(module, inputs, path):
        path.write_bytes(b"half a graph")
        raise error
    monkeypatch.setattr("stylegan2.tools.export._export_torchscript", failing)


def test_export_on_a_full_disk_removes_the_output_folder_it_made(tiny_generator, tmp_path, monkeypatch):
    torchscript_export_fails(monkeypatch, NO_SPACE)
    output = tmp_path / "new" / "graphs" / "g.torchscript.pt"
    with pytest.raises(ToolError, match="No space left on device; nothing was written$"):
        export_generator(tiny_generator(), output, format="torchscript")
    assert list(tmp_path.iterdir()) == []


def test_an_export_that_fails_its_check_removes_the_output_folder_it_made(tiny_generator, tmp_path, monkeypatch):
    monkeypatch.setattr("stylegan2.tools.export.MAX_ABS_DIFF", -1.0)  # no graph passes
    output = tmp_path / "new" / "g.torchscript.pt"
    with pytest.raises(ToolError, match="differ from PyTorch's"):
        export_generator(tiny_generator(), output, format="torchscript")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_keeps_a_folder_that_already_existed(tiny_generator, tmp_path, monkeypatch):
    torchscript_export_fails(monkeypatch, NO_SPACE)
    (tmp_path / "mine").mkdir()
    with pytest.raises(ToolError):
        export_generator(tiny_generator(), tmp_path / "mine" / "g.torchscript.pt", format="torchscript")
    assert [p.name for p in tmp_path.iterdir()] == ["mine"] and list((tmp_path / "mine").iterdir()) == []
