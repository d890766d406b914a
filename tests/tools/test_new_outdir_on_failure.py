"""mix and video that fail to write remove the new, empty --outdir they made for their output (as directions does)."""

import errno

import PIL.Image
import pytest

from stylegan2.tools import ToolError, render_video, style_mix
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
