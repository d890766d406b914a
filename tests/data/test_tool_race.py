"""`stylegan2 dataset` when a file appears at --dest while it runs (the user's, or another command's)."""

import pytest

from stylegan2.data import DatasetError, convert_dataset, open_dataset, tool


@pytest.fixture
def appears_at(monkeypatch):
    """Put b'theirs' at a path once the tool has checked --dest and written its first image."""
    def arrange(dest):
        real = tool._note_free_space

        def and_another_file_appears(*args, **kwargs):
            dest.write_bytes(b"theirs")
            return real(*args, **kwargs)
        monkeypatch.setattr(tool, "_note_free_space", and_another_file_appears)
    return arrange


def test_a_file_that_appears_at_dest_is_kept_and_the_zip_beside_it(tmp_path, appears_at):
    """The user's zip, copied to --dest during the run, was replaced; both commands said they wrote it."""
    dest = tmp_path / "new.zip"
    appears_at(dest)
    with pytest.raises(DatasetError) as caught:
        convert_dataset("builtin:shapes?n=3", dest, resolution=8)
    assert str(caught.value) == (f"{dest} appeared while this command ran (another command?); nothing was overwritten; "
                                 f"this command's output is kept as {tmp_path / 'new-1.zip'}")
    assert dest.read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new-1.zip", "new.zip"]  # no temporary left
    assert len(open_dataset(tmp_path / "new-1.zip")) == 3


def test_with_force_a_file_that_appears_at_dest_is_replaced(tmp_path, appears_at):
    dest = tmp_path / "new.zip"
    appears_at(dest)
    convert_dataset("builtin:shapes?n=3", dest, resolution=8, force=True)
    assert len(open_dataset(dest)) == 3 and sorted(p.name for p in tmp_path.iterdir()) == ["new.zip"]
