"""`convert_network`, the library function behind `stylegan2 convert`: it picks the conversion, and warns what the
command shows as notes."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from stylegan2.io import load_checkpoint, save_network
from stylegan2.io.info import NonFiniteWarning
from stylegan2.tools.convert import convert_network


def test_non_finite_weights_are_warned_and_the_file_is_written(tmp_path, tiny_generator):
    G = tiny_generator()
    with torch.no_grad():
        G.mapping.fc0.weight[0, 0] = float("nan")
    src = save_network(tmp_path / "nan.safetensors", {"G_ema": G})
    with pytest.warns(NonFiniteWarning, match=r"nan\.safetensors: 1 tensor holds NaN or Inf values \(G_ema\.mapping\.fc0"):
        converted = convert_network(src, tmp_path / "out.safetensors")
    assert converted.networks == ("G_ema",) and load_checkpoint(tmp_path / "out.safetensors").networks.keys() == {"G_ema"}


def test_the_files_notes_are_warned(tmp_path, tiny_generator, monkeypatch):
    src = save_network(tmp_path / "g.safetensors", {"G_ema": tiny_generator()})
    ckpt = load_checkpoint(src)
    ckpt.notes.append("G_ema: a note the file carries")
    monkeypatch.setattr("stylegan2.io.info.load_checkpoint", lambda path: ckpt)
    with pytest.warns(UserWarning, match="^G_ema: a note the file carries$"):
        convert_network(src, tmp_path / "out.safetensors")


def test_a_clean_file_converts_without_warnings(tmp_path, tiny_generator):
    src = save_network(tmp_path / "g.safetensors", {"G_ema": tiny_generator()})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        converted = convert_network(src, tmp_path / "out.safetensors", weights_only=True)
    assert str(converted) == "wrote G_ema (converted from stylegan2; the networks alone)"


def test_torchscript_is_refused_at_an_existing_destination_before_it_is_read(tmp_path, monkeypatch):
    """The destination is checked once on either path: a TorchScript file's too, before its layers are read."""
    script = tmp_path / "g.torchscript.pt"
    torch.jit.script(nn.Sequential(nn.Conv2d(3, 3, 1))).save(str(script))
    dst = tmp_path / "out.safetensors"
    dst.write_bytes(b"mine")
    monkeypatch.setattr("stylegan2.tools.convert.names_nvidia_layers", lambda path: pytest.fail("SRC was read"))
    with pytest.raises(FileExistsError, match="out.safetensors: already exists; pass --force"):
        convert_network(script, dst, trust_torchscript=True)
    assert dst.read_bytes() == b"mine"
