"""A network given as a URL is cached under a hashed name; offline, the error names the exact file to save."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stylegan2.io import load_network, save_network
from stylegan2.io.pretrained import network_file
from stylegan2.models import Generator
from stylegan2.utils.download import DownloadError

URL = "https://example.invalid/runs/net.safetensors"


def test_offline_the_error_says_which_file_to_save_and_that_file_is_then_used(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DownloadError) as err:
        network_file(URL)
    match = re.search(r"download (\S+) by hand and save it as (\S+)$", str(err.value))
    assert match is not None and match.group(1) == URL, str(err.value)
    saved_as = Path(match.group(2))
    G = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3, mapping_kwargs={"num_layers": 1},
                  synthesis_kwargs={"channel_base": 32, "channel_max": 8})
    saved_as.parent.mkdir(parents=True)
    save_network(saved_as, {"G_ema": G})  # doing what the message says
    assert set(load_network(URL)) == {"G_ema"}


def test_the_python_tools_take_a_url_as_the_cli_does(tmp_path: Path, monkeypatch):
    """load_generator (under every tool) made 'https:/...: no such network file' of a cached URL."""
    from stylegan2.tools import generate_images, load_generator

    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DownloadError) as err:
        network_file(URL)
    saved_as = Path(re.search(r"save it as (\S+)$", str(err.value)).group(1))
    saved_as.parent.mkdir(parents=True)
    save_network(saved_as, {"G_ema": Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3,
                                               mapping_kwargs={"num_layers": 1},
                                               synthesis_kwargs={"channel_base": 32, "channel_max": 8})})
    assert load_generator(URL, "cpu").img_resolution == 8
    assert [p.name for p in generate_images(URL, [1], tmp_path / "out", device="cpu")] == ["seed0001.png"]
