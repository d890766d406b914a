"""Our format: safetensors + JSON, written atomically, read back bit-identically without pickle."""

from __future__ import annotations

import json
import os
import stat

import pytest
import torch

import stylegan2
from stylegan2.io import CheckpointError, load_checkpoint, load_network, native, save_checkpoint, save_network


def test_networks_round_trip_bit_identical(tmp_path, tiny_networks):
    path = save_checkpoint(tmp_path / "net.safetensors", tiny_networks)
    loaded = load_network(path)
    assert set(loaded) == {"G", "D", "G_ema"}
    for name, net in tiny_networks.items():
        assert loaded[name].init_kwargs == net.init_kwargs
        original, again = net.state_dict(), loaded[name].state_dict()
        assert original.keys() == again.keys()
        assert all(torch.equal(original[k], again[k]) for k in original)
        assert not loaded[name].training
        assert not any(p.requires_grad for p in loaded[name].parameters())  # as NVIDIA's pickles hold them


def test_checkpoints_get_the_usual_file_permissions(tmp_path, tiny_networks):
    """Readable by the group and others as the umask allows (safetensors alone writes them owner-only)."""
    old = os.umask(0o022)
    try:
        path = save_checkpoint(tmp_path / "net.safetensors", tiny_networks)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_extra_tensors_training_state_and_notes_round_trip(tmp_path, tiny_networks):
    extra = {"optim.G.0.exp_avg": torch.randn(3, 4), "rng.torch": torch.get_rng_state()}
    state = {"cur_nimg": 1000, "augment": {"p": 0.125}, "nested": [1, "two", None]}
    path = save_checkpoint(tmp_path / "run.safetensors", {"G_ema": tiny_networks["G_ema"]},
                           extra_tensors=extra, training_state=state, notes=["hello"])
    ckpt = load_checkpoint(path)
    assert ckpt.format == "stylegan2"
    assert ckpt.training_state == state
    assert ckpt.notes == ["hello"]
    assert ckpt.extra_tensors.keys() == extra.keys()
    assert all(torch.equal(ckpt.extra_tensors[k], v) for k, v in extra.items())


def test_tensors_sharing_memory_are_saved(tmp_path, tiny_networks):
    base = torch.randn(8)
    extra = {"a.x": base, "a.y": base[:4]}
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "s.safetensors", {}, extra_tensors=extra))
    assert torch.equal(ckpt.extra_tensors["a.y"], base[:4])


def test_metadata_is_plain_json_in_the_safetensors_header(tmp_path, tiny_networks):
    from safetensors import safe_open

    path = save_checkpoint(tmp_path / "net.safetensors", {"D": tiny_networks["D"]})
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["stylegan2"])
        keys = set(f.keys())
    assert meta["format_version"] == 1
    assert meta["networks"]["D"] == {"class": "Discriminator", "init_kwargs": tiny_networks["D"].init_kwargs}
    assert "D.b4.out.weight" in keys and "D.b16.fromrgb.weight" in keys


def test_extra_tensor_colliding_with_a_network_is_rejected(tmp_path, tiny_networks):
    with pytest.raises(ValueError, match="collides with network 'G'"):
        save_checkpoint(tmp_path / "x.safetensors", {"G": tiny_networks["G"]}, extra_tensors={"G.extra": torch.zeros(1)})


def test_non_json_training_state_is_rejected(tmp_path, tiny_networks):
    with pytest.raises(ValueError, match="plain JSON"):
        save_checkpoint(tmp_path / "x.safetensors", {}, training_state={"bad": torch.zeros(1)})
    assert list(tmp_path.iterdir()) == []


def test_only_our_network_classes_can_be_saved(tmp_path):
    with pytest.raises(ValueError, match="only .*Discriminator.*Generator"):
        save_checkpoint(tmp_path / "x.safetensors", {"G": torch.nn.Linear(2, 2)})


def test_failed_save_keeps_previous_file_and_leaves_no_temp_files(tmp_path, tiny_networks, monkeypatch):
    path = save_checkpoint(tmp_path / "net.safetensors", tiny_networks)
    before = path.read_bytes()

    def crash(self, data):
        with open(self, "wb") as f:
            f.write(data[: len(data) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(native.Path, "write_bytes", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"G": tiny_networks["G"]}, overwrite=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["net.safetensors"]


def test_an_existing_file_is_replaced_only_when_asked(tmp_path, tiny_networks):
    """Nothing the user has is overwritten: a file under the name given survives a save_network."""
    precious = tmp_path / "ffhq.safetensors"
    precious.write_bytes(b"USER FILE")
    for save in (lambda **kw: save_network(precious, tiny_networks, **kw), lambda **kw: save_checkpoint(precious, tiny_networks, **kw)):
        with pytest.raises(FileExistsError, match=r"ffhq.safetensors: already exists; pass overwrite=True to replace it"):
            save()
        assert precious.read_bytes() == b"USER FILE"
    save_network(precious, tiny_networks, overwrite=True)
    assert set(load_checkpoint(precious).networks) == set(tiny_networks)


@pytest.mark.parametrize("name", ["finetuned.pkl", "net.PT", "net.pth"])
def test_a_name_of_another_format_is_refused(tmp_path, tiny_networks, name):
    """A 'finetuned.pkl' for NVIDIA's code would be our safetensors, which their code cannot read."""
    for save in (save_network, save_checkpoint):
        with pytest.raises(ValueError, match=r"this writes our \.safetensors format, which NVIDIA's and rosinality's "
                                             r"code cannot read; name the file (finetuned|net)\.safetensors$"):
            save(tmp_path / name, tiny_networks)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("networks, notes, error, message", [
    ("G", (), TypeError, r"networks must be a dict of names and modules such as \{'G_ema': G\}, got str"),
    ({1: None}, (), TypeError, "networks must be a dict"),
    (None, "a note", TypeError, "notes must be a list of strings, not one string"),
])
def test_what_cannot_be_saved_is_named_before_any_work(tmp_path, tiny_networks, networks, notes, error, message):
    with pytest.raises(error, match=message):
        save_checkpoint(tmp_path / "net.safetensors", tiny_networks if networks is None else networks, notes=notes)
    with pytest.raises(IsADirectoryError, match=r"is a directory; give a file name such as .*network.safetensors"):
        save_network(tmp_path, tiny_networks)
    assert list(tmp_path.iterdir()) == []


def test_missing_output_directory_is_a_clear_error(tmp_path, tiny_networks):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_checkpoint(tmp_path / "no" / "net.safetensors", tiny_networks)


def test_newer_format_version_is_refused(tmp_path, tiny_networks):
    from safetensors.torch import save_file

    tensors = {f"D.{k}": v.contiguous() for k, v in tiny_networks["D"].state_dict().items()}
    meta = {"format_version": 2, "networks": {"D": {"class": "Discriminator", "init_kwargs": tiny_networks["D"].init_kwargs}}}
    save_file(tensors, str(tmp_path / "new.safetensors"), metadata={"stylegan2": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="format version 2"):
        load_checkpoint(tmp_path / "new.safetensors")


def test_mismatched_tensor_shape_is_a_clear_error(tmp_path, tiny_networks):
    from safetensors.torch import save_file

    tensors = {f"D.{k}": v.contiguous() for k, v in tiny_networks["D"].state_dict().items()}
    tensors["D.b4.out.weight"] = torch.zeros(1, 3)
    meta = {"format_version": 1, "networks": {"D": {"class": "Discriminator", "init_kwargs": tiny_networks["D"].init_kwargs}}}
    save_file(tensors, str(tmp_path / "bad.safetensors"), metadata={"stylegan2": json.dumps(meta)})
    with pytest.raises(CheckpointError, match=r"b4.out.weight has shape \[1, 3\]"):
        load_checkpoint(tmp_path / "bad.safetensors")


def test_top_level_package_exports_the_api():
    assert stylegan2.load_network is load_network
    assert stylegan2.save_checkpoint is save_checkpoint

