"""The Swapping Autoencoder view: a swap equals `stylegan2 swapae swap` on the same two images."""

import numpy as np
import PIL.Image
import pytest

from stylegan2.explore import SwapExplorer, open_explorer
from stylegan2.explore.swap import MAX_IMAGES, SwapSettings
from stylegan2.swapae.tools import swap
from stylegan2.tools import ToolError


@pytest.fixture
def explorer(swapae_file) -> SwapExplorer:
    return open_explorer(swapae_file, "cpu")


@pytest.mark.parametrize("alpha", [1.0, 0.4, 0.0])
def test_a_swap_equals_the_swapae_swap_command(explorer, swapae_file, png_file, tmp_path, alpha):
    (tmp_path / "s.png").write_bytes(png_file(seed=1))
    (tmp_path / "t.png").write_bytes(png_file(seed=2))
    structure = explorer.add("s.png", (tmp_path / "s.png").read_bytes())
    texture = explorer.add("t.png", (tmp_path / "t.png").read_bytes())
    image = explorer.render(SwapSettings(structure, texture, alpha))
    paths = swap(swapae_file, tmp_path / "s.png", tmp_path / "t.png", tmp_path / "out", alpha=alpha, device="cpu")
    np.testing.assert_array_equal(np.asarray(PIL.Image.open(paths[1])), image)


def test_a_folder_offers_its_images_and_uploads_never_grow_past_the_limit(swapae_file, png_file, tmp_path):
    folder = tmp_path / "pick"
    folder.mkdir()
    for i in range(3):
        (folder / f"img{i}.png").write_bytes(png_file(seed=i))
    (folder / "notes.txt").write_text("not an image")
    explorer = open_explorer(swapae_file, "cpu", images=folder)
    assert explorer.info()["images"] == ["img0.png", "img1.png", "img2.png"]
    for i in range(MAX_IMAGES - 3):
        explorer.add(f"u{i}.png", png_file(seed=10 + i))
    assert explorer.add("one-more.png", png_file(seed=99)) == 3  # replaces the oldest upload, not a picked image
    assert len(explorer.info()["images"]) == MAX_IMAGES and explorer.info()["images"][3] == "one-more.png"


def test_swapae_and_gan_options_are_refused_for_the_other_kind(swapae_file, gan_file, tmp_path):
    with pytest.raises(ToolError, match="--directions: a Swapping Autoencoder has no latent directions"):
        open_explorer(swapae_file, "cpu", directions=tmp_path / "d.npz")
    with pytest.raises(ToolError, match="--images: picking input images is for Swapping Autoencoder checkpoints"):
        open_explorer(gan_file, "cpu", images=tmp_path)
    with pytest.raises(FileNotFoundError, match="no-such.pt: no such network file"):
        open_explorer(tmp_path / "no-such.pt", "cpu")


def test_an_unreadable_file_in_the_images_folder_is_named_with_its_path(swapae_file, png_file, tmp_path):
    (tmp_path / "good.png").write_bytes(png_file())
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ToolError, match=r"bad\.png \(--images\): cannot decode as an image \(not a known image format\)"):
        open_explorer(swapae_file, "cpu", images=tmp_path)


def test_uploads_are_encoded_without_a_non_writable_array_warning(swapae_file, png_file):
    import warnings

    explorer = open_explorer(swapae_file, "cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        explorer.add("a.png", png_file(20, 24))
