"""Files that are easy to pass as a network by mistake are called what they are, not a corrupt PyTorch file."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from stylegan2.io import CheckpointError, load_checkpoint

HINT = "give a network checkpoint (.safetensors, .pkl or .pt)"


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (4, 4)).save(buffer, format="png")
    return buffer.getvalue()


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def refused(path: Path) -> str:
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    return str(err.value)


def test_an_npz_of_arrays_is_called_one(tmp_path: Path):
    np.savez(tmp_path / "projected_w.npz", w=np.zeros((1, 6, 16), np.float32))
    assert refused(tmp_path / "projected_w.npz") == (
        f"{tmp_path / 'projected_w.npz'}: not a network file; it looks like an .npz of arrays (w), such as "
        f"projected_w.npz or directions.npz; {HINT}")


@pytest.mark.parametrize("files, held", [
    ({"00000/img00000000.png": png_bytes(), "dataset.json": json.dumps({"labels": None}).encode()},
     "1 image and dataset.json"),
    ({"a.png": png_bytes(), "b.png": png_bytes()}, "2 images"),
])
def test_a_dataset_zip_is_called_one(tmp_path: Path, files, held):
    path = write_zip(tmp_path / "cats.zip", files)
    assert refused(path) == f"{path}: not a network file; it looks like a dataset zip ({held}), which goes to --data; {HINT}"


def test_a_torchscript_program_is_called_one_before_any_unpickling(tmp_path: Path):
    """What `stylegan2 export --format torchscript` writes: it has a data.pkl, and code that loading would run."""
    path = tmp_path / "g.pt"
    torch.jit.script(torch.nn.Linear(2, 2)).save(str(path))
    assert refused(path) == (f"{path}: a TorchScript program (as `stylegan2 export --format torchscript` writes), not a "
                             "network checkpoint; it is not loaded here, since loading it runs its code: give the "
                             "checkpoint it was made from (.safetensors, .pkl or .pt)")


def test_another_zip_is_not_taken_for_a_pytorch_file(tmp_path: Path):
    path = write_zip(tmp_path / "notes.pt", {"readme.txt": b"hello"})
    assert refused(path) == f"{path}: not a network file; a zip archive without the data.pkl of PyTorch files; {HINT}"


def test_a_truncated_pytorch_zip_is_still_called_truncated(tmp_path: Path, rosinality_path: Path):
    path = tmp_path / "cut.pt"
    path.write_bytes(rosinality_path.read_bytes()[:4096])
    assert re.match(r".*cut\.pt: truncated or corrupt PyTorch file", refused(path))


@pytest.mark.parametrize("given, name", [(None, "NoneType"), (3, "int"), (b"G.pkl", "bytes"), ({}, "dict")])
def test_something_other_than_a_path_is_named(given, name):
    """pathlib's 'expected str, bytes or os.PathLike object' named neither the argument nor the fix."""
    with pytest.raises(TypeError, match=rf"^expected a network file's path or URL \(str or Path\), got {name}$"):
        load_checkpoint(given)


def test_a_network_passed_as_the_path_is_called_loaded_already():
    with pytest.raises(TypeError, match=r"got Linear; it is loaded already$"):
        load_checkpoint(torch.nn.Linear(1, 1))


@pytest.mark.parametrize("content, said", [
    ({"ckpt": "550000.pt", "eigvec": torch.zeros(8, 8)},
     "found keys ckpt, eigvec); it is closed_form_factorization.py's factor.pt, which holds directions, not a network"),
    ({f"img{i}.png": {"img": torch.zeros(3), "latent": torch.zeros(8)} for i in range(9)},
     "found keys img0.png, img1.png, img2.png, img3.png, img4.png, ...); it is projector.py's output, which holds "
     "latents, not a network"),
])
def test_rosinality_scripts_other_outputs_are_called_what_they_are(tmp_path: Path, content, said):
    path = tmp_path / "factor.pt"
    torch.save(content, path)
    with pytest.raises(CheckpointError, match=re.escape(said)):
        load_checkpoint(path)


def test_a_run_directory_names_its_newest_snapshot(tmp_path: Path):
    run = tmp_path / "00000-shapes-cpu"
    run.mkdir()
    for index, name in enumerate(("network-snapshot-000004-096.safetensors", "network-snapshot-000004.safetensors")):
        (run / name).write_bytes(b"x")
        os.utime(run / name, ns=(index * 10**9, index * 10**9))  # the older file last: copied, say
    with pytest.raises(CheckpointError, match=rf"^{re.escape(str(run))}: is a run directory; give one of its snapshots, "
                                              rf"such as the newest, {re.escape(str(run / 'network-snapshot-000004-096.safetensors'))}$"):
        load_checkpoint(run)


def test_a_file_too_short_to_tell_is_called_truncated(tmp_path: Path):
    (tmp_path / "cut.safetensors").write_bytes(b"\x10\x02\x00\x00")  # the first bytes of a snapshot's header length
    with pytest.raises(CheckpointError, match=r"cut\.safetensors: only 4 bytes long; truncated, or not a checkpoint file$"):
        load_checkpoint(tmp_path / "cut.safetensors")
