"""A checkpoint's name may be as long as the file system allows, and a failed write names the checkpoint."""

from __future__ import annotations

import errno
import os

import pytest

from stylegan2.io import load_network, native, save_network


def test_a_checkpoint_name_near_the_file_systems_limit_is_written(tmp_path, tiny_networks):
    """The temporary's name is ~25 characters longer: `convert NET <240 characters>.safetensors` failed with 'File
    name too long' naming the hidden temporary (qa-reviewer33 L3)."""
    G = tiny_networks["G_ema"]
    target = tmp_path / ("n" * (os.pathconf(tmp_path, "PC_NAME_MAX") - 20) + ".safetensors")
    save_network(target, {"G_ema": G})
    assert load_network(target)["G_ema"].z_dim == G.z_dim and [p.name for p in tmp_path.iterdir()] == [target.name]


def test_a_failed_checkpoint_write_names_the_checkpoint_not_our_temporary(tmp_path, tiny_networks, monkeypatch):
    def full_disk(self, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))  # names our temporary, as a real write does

    monkeypatch.setattr(native.Path, "write_bytes", full_disk)
    target = tmp_path / "net.safetensors"
    with pytest.raises(OSError) as caught:
        save_network(target, {"G_ema": tiny_networks["G_ema"]})
    assert caught.value.filename == str(target) and list(tmp_path.iterdir()) == []
