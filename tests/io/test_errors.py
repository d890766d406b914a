"""Missing, truncated, corrupt and foreign files give a clear error that names the file."""

from __future__ import annotations

import pickle

import pytest
import torch

from stylegan2.io import CheckpointError, load_checkpoint, save_checkpoint


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pkl: no such file"):
        load_checkpoint(tmp_path / "nope.pkl")


def test_directory(tmp_path):
    with pytest.raises(CheckpointError, match="is a directory"):
        load_checkpoint(tmp_path)


def test_empty_file(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.pt: the file is empty"):
        load_checkpoint(tmp_path / "empty.pt")


def test_garbage_is_an_unrecognized_format(tmp_path):
    (tmp_path / "model.pkl").write_bytes(b"GIF89a" + bytes(range(200)))
    with pytest.raises(CheckpointError, match="model.pkl: unrecognized checkpoint format"):
        load_checkpoint(tmp_path / "model.pkl")


@pytest.mark.parametrize("fraction", [0.01, 0.5, 0.999])
def test_truncated_official_pickle(tmp_path, official_path, fraction):
    data = official_path.read_bytes()
    path = tmp_path / "cut.pkl"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CheckpointError, match="cut.pkl: truncated or corrupt network pickle"):
        load_checkpoint(path)


def test_official_pickle_with_corrupt_opcodes(tmp_path, official_path):
    data = bytearray(official_path.read_bytes())
    data[11:75] = b"\xff" * 64  # just after the header: 0xff is no pickle opcode
    path = tmp_path / "corrupt.pkl"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt.pkl: truncated or corrupt network pickle"):
        load_checkpoint(path)


def test_truncated_rosinality_checkpoint(tmp_path, rosinality_path):
    with open(rosinality_path, "rb") as f:
        head = f.read(1 << 20)
    path = tmp_path / "cut.pt"
    path.write_bytes(head)
    with pytest.raises(CheckpointError, match="cut.pt: truncated or corrupt PyTorch file"):
        load_checkpoint(path)


@pytest.mark.parametrize("fraction", [0.001, 0.5])
def test_truncated_stylegan2_checkpoint(tmp_path, tiny_networks, fraction):
    path = save_checkpoint(tmp_path / "full.safetensors", tiny_networks)
    data = path.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: max(9, int(len(data) * fraction))])
    with pytest.raises(CheckpointError, match="cut.safetensors: truncated or corrupt safetensors file"):
        load_checkpoint(cut)


def test_pickle_that_is_not_a_network_pickle(tmp_path):
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2, 3], protocol=4))
    with pytest.raises(CheckpointError, match="not a StyleGAN2-ADA network pickle"):
        load_checkpoint(tmp_path / "list.pkl")


def test_torch_file_that_is_not_a_rosinality_checkpoint(tmp_path):
    torch.save({"model": {"weight": torch.zeros(2)}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match=r"other.pt: a PyTorch file, but not a rosinality .* found keys model\)$"):
        load_checkpoint(tmp_path / "other.pt")


def test_rosinality_state_dict_with_missing_tensor(tmp_path):
    torch.save({"g_ema": {"style.1.weight": torch.zeros(4, 4), "input.input": torch.zeros(1, 8, 4, 4)}}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"bad.pt \[g_ema\]: tensor 'style.1.bias' is missing"):
        load_checkpoint(tmp_path / "bad.pt")


def test_safetensors_without_our_metadata(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(3)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(CheckpointError, match="without 'stylegan2' metadata"):
        load_checkpoint(tmp_path / "plain.safetensors")
