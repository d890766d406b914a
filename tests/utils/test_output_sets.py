"""Outputs that appear while a command runs, sets of outputs written all or nothing, and failed writes named."""

import errno

import pytest

from stylegan2.utils import files
from stylegan2.utils.files import OutputAppearedError, atomic_path, atomic_paths, write_failure, writing


def test_a_file_that_appears_before_the_commit_is_kept_and_ours_kept_beside_it_when_asked(tmp_path):
    target = tmp_path / "data.zip"
    (tmp_path / "data-1.zip").write_bytes(b"an earlier kept one")
    with pytest.raises(OutputAppearedError) as caught:
        with atomic_path(target, replace=False, keep=True) as tmp:
            tmp.write_bytes(b"mine")
            target.write_bytes(b"theirs")
    assert target.read_bytes() == b"theirs" and (tmp_path / "data-2.zip").read_bytes() == b"mine"
    assert str(caught.value) == (f"{target} appeared while this command ran (another command?); nothing was "
                                 f"overwritten; this command's output is kept as {tmp_path / 'data-2.zip'}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data-1.zip", "data-2.zip", "data.zip"]


def test_a_set_is_committed_whole(tmp_path):
    paths = [tmp_path / "out" / "a.png", tmp_path / "out" / "b.npz"]
    with atomic_paths(paths) as temps:
        for tmp, data in zip(temps, (b"a", b"b")):
            tmp.write_bytes(data)
        assert not any(p.exists() for p in paths)  # nothing is in place before the block ends
    assert [p.read_bytes() for p in paths] == [b"a", b"b"] and len(list((tmp_path / "out").iterdir())) == 2


def test_a_failed_write_in_a_set_leaves_the_earlier_set_and_no_temporary(tmp_path):
    paths = [tmp_path / "a.png", tmp_path / "b.npz"]
    for path in paths:
        path.write_bytes(b"old " + path.name.encode())
    with pytest.raises(OSError, match=r"No space left on device: '.*b\.npz'"):
        with atomic_paths(paths) as temps:
            temps[0].write_bytes(b"new")
            with writing(paths[1]):
                raise OSError(errno.ENOSPC, "No space left on device")
    assert [p.read_bytes() for p in paths] == [b"old a.png", b"old b.npz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.npz"]


def test_a_commit_that_fails_midway_puts_the_earlier_files_back(tmp_path, monkeypatch):
    paths = [tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.npz"]
    paths[0].write_bytes(b"old a")  # b.png is new in this set
    paths[2].write_bytes(b"old c")
    commit = files.commit

    def failing_third(tmp, path, **kwargs):
        if path.name == "c.npz":
            raise OSError(errno.EIO, "Input/output error")
        commit(tmp, path, **kwargs)

    monkeypatch.setattr(files, "commit", failing_third)
    with pytest.raises(OSError, match="Input/output error"):
        with atomic_paths(paths) as temps:
            for tmp in temps:
                tmp.write_bytes(b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "c.npz"]
    assert paths[0].read_bytes() == b"old a" and paths[2].read_bytes() == b"old c"


def test_without_replace_a_file_appearing_in_a_set_stops_it_and_nothing_of_ours_stays(tmp_path):
    paths = [tmp_path / "target.png", tmp_path / "proj.png", tmp_path / "projected_w.npz"]
    with pytest.raises(OutputAppearedError, match=r"proj\.png appeared while this command ran .*not kept"):
        with atomic_paths(paths, replace=False) as temps:
            for tmp in temps:
                tmp.write_bytes(b"mine")
            paths[1].write_bytes(b"theirs")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj.png"] and paths[1].read_bytes() == b"theirs"


def test_a_set_that_fails_removes_the_folders_it_made(tmp_path):
    outdir = tmp_path / "new" / "dir"
    with pytest.raises(RuntimeError):
        with atomic_paths([outdir / "directions.npz"]):
            raise RuntimeError("a full disk, say")
    assert list(tmp_path.iterdir()) == []


def test_a_write_error_names_the_target_not_our_temporary(tmp_path):
    target = tmp_path / "proj.png"
    with pytest.raises(OSError) as caught:
        with writing(target):
            raise OSError(errno.ENOSPC, "No space left on device", str(files.temp_name(target)))
    assert write_failure(caught.value) == f"could not write {target}: No space left on device"


def test_another_files_name_in_an_error_is_kept(tmp_path):
    with pytest.raises(OSError) as caught:
        with writing(tmp_path / "proj.png"):
            raise OSError(errno.EACCES, "Permission denied", str(tmp_path / "vgg16.pt"))
    assert caught.value.filename == str(tmp_path / "vgg16.pt")

