"""A checkpoint whose metadata lost its format_version is called damaged, not a newer format."""

import json

import pytest
from safetensors.torch import save_file

from stylegan2.io import CheckpointError, load_checkpoint


def write_with_metadata(path, D, **fields):
    tensors = {f"D.{k}": v.contiguous() for k, v in D.state_dict().items()}
    meta = {"networks": {"D": {"class": "Discriminator", "init_kwargs": D.init_kwargs}}, **fields}
    save_file(tensors, str(path), metadata={"stylegan2": json.dumps(meta)})
    return path


@pytest.mark.parametrize("fields, found", [
    ({"fo#mat_version": 1}, "has no format_version"),  # one changed byte in the key
    ({"format_version": "1x"}, "has format_version '1x'"),
    ({"format_version": 0}, "has format_version '0'"),
])
def test_a_missing_or_unreadable_format_version_is_damaged_metadata(tmp_path, tiny_networks, fields, found):
    path = write_with_metadata(tmp_path / "net.safetensors", tiny_networks["D"], **fields)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    assert str(caught.value) == (f"{path}: its 'stylegan2' metadata {found}, which no stylegan2 writes: the file is "
                                 "damaged or not a stylegan2 checkpoint")
    assert "upgrade" not in str(caught.value)
