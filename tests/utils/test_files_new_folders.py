"""new_folders_removed_on_failure: a write that fails takes back the empty folders it made, and nothing else."""

import pytest

from stylegan2.utils.files import new_folders_removed_on_failure


class WriteFailed(Exception):
    pass


def test_a_failure_removes_the_folders_made_for_the_write(tmp_path):
    folder = tmp_path / "a" / "b" / "c"
    with pytest.raises(WriteFailed), new_folders_removed_on_failure(folder):
        folder.mkdir(parents=True)
        raise WriteFailed
    assert list(tmp_path.iterdir()) == []


def test_a_ctrl_c_removes_them_too(tmp_path):
    with pytest.raises(KeyboardInterrupt), new_folders_removed_on_failure(tmp_path / "new"):
        (tmp_path / "new").mkdir()
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_folders_that_existed_or_hold_anything_stay(tmp_path):
    (tmp_path / "mine").mkdir()
    with pytest.raises(WriteFailed), new_folders_removed_on_failure(tmp_path / "mine" / "new" / "deeper"):
        (tmp_path / "mine" / "new" / "deeper").mkdir(parents=True)
        (tmp_path / "mine" / "new" / "kept.txt").write_text("written before the failure")
        raise WriteFailed
    assert [p.name for p in (tmp_path / "mine" / "new").iterdir()] == ["kept.txt"]


def test_a_write_that_succeeds_keeps_its_new_folders(tmp_path):
    with new_folders_removed_on_failure(tmp_path / "new"):
        (tmp_path / "new").mkdir()
    assert (tmp_path / "new").is_dir()
