"""The Swapping Autoencoder view: a swap equals `stylegan2 swapae swap` on the same two images."""

import shlex

import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.explore import SwapExplorer, open_explorer
from stylegan2.explore.settings import SettingsError
from stylegan2.explore.swap import MAX_IMAGES, UPLOAD_PLACES, SwapSettings
from stylegan2.swapae.tools import swap
from stylegan2.tools import ToolError


def names(explorer: SwapExplorer) -> list[str]:
    """The names of the images the explorer holds, by id."""
    return [image["name"] for image in explorer.info()["images"]]


def ids(explorer: SwapExplorer) -> list[int]:
    """The ids of the images the explorer holds, in order."""
    return [image["id"] for image in explorer.info()["images"]]


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


def test_info_names_the_network_file_for_the_pages_title(swapae_file):
    assert open_explorer(swapae_file, "cpu").info()["network_file"] == swapae_file.name


def test_a_folder_offers_its_images_and_uploads_never_grow_past_the_limit(swapae_file, png_file, tmp_path):
    folder = tmp_path / "pick"
    folder.mkdir()
    for i in range(3):
        (folder / f"img{i}.png").write_bytes(png_file(seed=i))
    (folder / "notes.txt").write_text("not an image")
    explorer = open_explorer(swapae_file, "cpu", images=folder)
    assert explorer.info()["images"] == [{"id": 0, "name": "img0.png"}, {"id": 1, "name": "img1.png"},
                                         {"id": 2, "name": "img2.png"}]
    for i in range(MAX_IMAGES - 3):
        explorer.add(f"u{i}.png", png_file(seed=10 + i))
    assert explorer.add("one-more.png", png_file(seed=99)) == MAX_IMAGES  # a new id, never the replaced one's
    assert len(names(explorer)) == MAX_IMAGES  # the oldest upload (u0, id 3) went, not a picked image
    assert names(explorer)[:4] == ["img0.png", "img1.png", "img2.png", "u1.png"] and names(explorer)[-1] == "one-more.png"
    assert ids(explorer) == [0, 1, 2, *range(4, MAX_IMAGES + 1)] and explorer.info()["issued"] == MAX_IMAGES + 1


def test_once_full_each_upload_replaces_the_oldest_upload_in_turn(swapae_file, png_file):
    explorer = open_explorer(swapae_file, "cpu")
    data = png_file()
    for i in range(MAX_IMAGES):
        explorer.add(f"u{i}.png", data)
    structure = explorer.upload("structure.png", data)
    texture = explorer.upload("texture.png", data)
    assert (structure["id"], texture["id"]) == (MAX_IMAGES, MAX_IMAGES + 1)  # new ids, never the replaced ones'
    assert names(explorer)[0] == "u2.png" and names(explorer)[-2:] == ["structure.png", "texture.png"]
    for i in range(MAX_IMAGES - 2):
        explorer.add(f"v{i}.png", data)
    assert explorer.add("again.png", data) == 2 * MAX_IMAGES  # round and round: `structure.png` is the oldest upload again
    assert names(explorer)[0] == "texture.png" and len(names(explorer)) == MAX_IMAGES


def test_an_id_replaced_by_an_upload_is_refused_by_name_never_reused(swapae_file, png_file):
    """An old bookmark naming a replaced image must not silently show the upload that took its place."""
    explorer = open_explorer(swapae_file, "cpu")
    data = png_file()
    for i in range(MAX_IMAGES):
        explorer.add(f"u{i}.png", data)
    assert explorer.parse({"structure": "5", "texture": "6"}).structure == 5
    newest = explorer.upload("new.png", data)["id"]  # replaces u0 (id 0)
    for i in range(6):
        explorer.add(f"w{i}.png", data)  # and u1..u6 (ids 1..6)
    assert newest == MAX_IMAGES and set(ids(explorer)).isdisjoint(range(7))
    with pytest.raises(SettingsError, match=rf"^structure: no image 5 here \(a newer upload replaced it: the explorer "
                                            rf"keeps at most {MAX_IMAGES} images\); the explorer holds images 7-70$"):
        explorer.parse({"structure": "5", "texture": "6"})
    with pytest.raises(SettingsError, match=r"^texture: no image 71 here; the explorer holds images 7-70$"):
        explorer.parse({"structure": "7", "texture": "71"})  # never given: not said to be replaced
    with pytest.raises(SettingsError, match=r"^no image 0 here \(a newer upload replaced it"):
        explorer.image(0)
    settings = explorer.parse({"structure": "7", "texture": str(newest)})
    explorer.add("x.png", data)  # replaces id 7 between the check and the render (another tab's upload)
    with pytest.raises(SettingsError, match=r"^no image 7 here \(a newer upload replaced it"):
        explorer.render(settings)


def test_a_folder_of_more_images_than_fit_leaves_room_for_uploads_with_a_note(swapae_file, png_file, tmp_path):
    for i in range(MAX_IMAGES - UPLOAD_PLACES + 2):
        (tmp_path / f"img{i:02d}.png").write_bytes(png_file())
    with pytest.warns(UserWarning, match=rf"--images {tmp_path}: using the first {MAX_IMAGES - UPLOAD_PLACES} of its "
                                         rf"{MAX_IMAGES - UPLOAD_PLACES + 2} images \(by name\)"):
        explorer = open_explorer(swapae_file, "cpu", images=tmp_path)
    assert names(explorer)[-1] == f"img{MAX_IMAGES - UPLOAD_PLACES - 1:02d}.png"
    added = [explorer.add(f"u{i}.png", png_file()) for i in range(UPLOAD_PLACES + 1)]
    assert added == [*range(MAX_IMAGES + 1)][-UPLOAD_PLACES - 1:]
    assert MAX_IMAGES - UPLOAD_PLACES not in ids(explorer)  # the first upload went, the folder's images stay
    assert names(explorer)[:MAX_IMAGES - UPLOAD_PLACES] == [f"img{i:02d}.png" for i in range(MAX_IMAGES - UPLOAD_PLACES)]


def test_a_folder_image_that_is_cropped_or_enlarged_is_noted(swapae_file, png_file, tmp_path):
    (tmp_path / "tiny.png").write_bytes(png_file(4, 2))
    with pytest.warns(UserWarning, match=r"tiny\.png \(--images\): 4x2 image center-cropped to 2x2 and enlarged"):
        open_explorer(swapae_file, "cpu", images=tmp_path)


def test_swapae_and_gan_options_are_refused_for_the_other_kind(swapae_file, gan_file, tmp_path):
    with pytest.raises(ToolError, match="--directions: a Swapping Autoencoder has no latent directions"):
        open_explorer(swapae_file, "cpu", directions=tmp_path / "d.npz")
    with pytest.raises(ToolError, match="^--layers: a Swapping Autoencoder has no latent directions; drop --layers$"):
        open_explorer(swapae_file, "cpu", layers="all")
    with pytest.raises(ToolError, match="^--top-k: a Swapping Autoencoder has no .*; drop --top-k$"):
        open_explorer(swapae_file, "cpu", top_k=0)
    with pytest.raises(ToolError, match="drop --directions and --layers and --top-k$"):
        open_explorer(swapae_file, "cpu", directions=tmp_path / "d.npz", layers="0-1", top_k=3)
    with pytest.raises(ToolError, match="--images: picking input images is for Swapping Autoencoder checkpoints"):
        open_explorer(gan_file, "cpu", images=tmp_path)
    with pytest.raises(FileNotFoundError, match="no-such.pt: no such network file"):
        open_explorer(tmp_path / "no-such.pt", "cpu")


def test_an_unreadable_file_in_the_images_folder_is_left_out_with_a_note_naming_it(swapae_file, png_file, tmp_path):
    """One bad photo in a folder must not keep the explorer from starting; a damaged one is not told to change format."""
    (tmp_path / "good.png").write_bytes(png_file())
    (tmp_path / "bad.png").write_bytes(b"not an image")
    (tmp_path / "cut.png").write_bytes(png_file()[:60])
    with pytest.warns(UserWarning) as notes:
        explorer = open_explorer(swapae_file, "cpu", images=tmp_path)
    said = sorted(str(note.message) for note in notes)
    assert said[0].startswith(f"{tmp_path / 'bad.png'} (--images): cannot decode as an image (not a known image format); "
                              "use a PNG, JPEG or WebP file; left out")
    assert said[1].startswith(f"{tmp_path / 'cut.png'} (--images): cannot decode as an image (")
    assert said[1].endswith("the file is damaged or cut short: save or copy it again; left out")
    assert names(explorer) == ["good.png"]
    (tmp_path / "good.png").unlink()
    with pytest.warns(UserWarning), pytest.raises(ToolError, match=r"none of its 2 images could be read \(--images\)"):
        open_explorer(swapae_file, "cpu", images=tmp_path)


def test_a_folder_link_pointing_outside_it_and_an_oversized_file_are_left_out_unread(swapae_file, png_file, tmp_path,
                                                                                        monkeypatch):
    """As datasets are read; they were read whole (a link could reach any file of the user's, of any size)."""
    folder, elsewhere = tmp_path / "imgs", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (folder / "good.png").write_bytes(png_file())
    (elsewhere / "private.png").write_bytes(png_file())
    (folder / "zz_outside.png").symlink_to(elsewhere / "private.png")
    (folder / "inside.png").symlink_to(folder / "good.png")
    (folder / "huge.png").write_bytes(png_file() + b"\0" * 2048)
    monkeypatch.setattr("stylegan2.explore.swap.MAX_IMAGE_FILE_BYTES", 2048)
    with pytest.warns(UserWarning) as notes:
        explorer = open_explorer(swapae_file, "cpu", images=folder)
    said = sorted(str(note.message) for note in notes)
    assert said == [f"--images {folder}: skipped 1 symbolic link(s) pointing outside the folder: zz_outside.png",
                    f"{folder / 'huge.png'} (--images): larger than 2,048 bytes; left out"]
    assert names(explorer) == ["good.png", "inside.png"]


def test_uploads_are_encoded_without_a_non_writable_array_warning(swapae_file, png_file):
    import warnings

    explorer = open_explorer(swapae_file, "cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        explorer.add("a.png", png_file(20, 24))


def test_a_folder_image_of_too_many_pixels_is_left_out_with_a_note_that_does_not_say_upload(swapae_file, png_file,
                                                                                             tmp_path, monkeypatch):
    (tmp_path / "big.png").write_bytes(png_file(20, 20))
    (tmp_path / "small.png").write_bytes(png_file(8, 8))
    monkeypatch.setattr("stylegan2.explore.uploads.MAX_UPLOAD_PIXELS", 100)
    with pytest.warns(UserWarning) as notes:
        explorer = open_explorer(swapae_file, "cpu", images=tmp_path)
    said = [str(note.message) for note in notes if "too large" in str(note.message)]
    assert said == [f"{tmp_path / 'big.png'} (--images): 20x20 pixels is too large; the explorer takes images of at "
                    "most 100 pixels; left out"]
    assert names(explorer) == ["small.png"]


def run_command(command: str, outdir) -> np.ndarray:
    """Run the page's `swapae swap` command as a user would; the swapped image it writes."""
    result = CliRunner().invoke(main, shlex.split(command)[1:] + ["--outdir", str(outdir), "--device", "cpu"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return np.asarray(PIL.Image.open(outdir / "swap_s00_t00.png"))


@pytest.mark.parametrize("alpha", [1.0, 0.35])
def test_the_command_of_a_folder_swap_names_its_files_and_writes_the_image_shown(swapae_file, png_file, tmp_path,
                                                                                  monkeypatch, alpha):
    folder = tmp_path / "my photos"
    folder.mkdir()
    for name, seed in (("a.png", 1), ("b.png", 2)):
        (folder / name).write_bytes(png_file(seed=seed))
    explorer = open_explorer(swapae_file, "cpu", images=folder)
    settings = SwapSettings(1, 0, alpha)
    (command,) = explorer.commands(settings)
    assert command.startswith(f"stylegan2 swapae swap --network {swapae_file} --structure '{folder}/b.png' "
                              f"--texture '{folder}/a.png'")
    assert ("--alpha 0.35" in command) == (alpha != 1)
    assert explorer.describe(settings)["hint"] == "The command writes this image as swap_s00_t00.png."
    monkeypatch.chdir(tmp_path)
    np.testing.assert_array_equal(run_command(command, tmp_path / "out"), explorer.render(settings))


def test_the_command_of_an_upload_names_it_and_asks_for_its_path(explorer, png_file):
    structure = explorer.upload("my shot.png", png_file(seed=1))["id"]
    texture = explorer.upload("look.png", png_file(seed=2))["id"]
    settings = SwapSettings(structure, texture, 0.5)
    assert explorer.commands(settings) == [f"stylegan2 swapae swap --network {explorer.network} --structure "
                                           "'my shot.png' --texture look.png --alpha 0.5"]
    assert explorer.describe(settings)["hint"] == ("my shot.png and look.png were uploaded: give the path of your copy. "
                                                   "The command writes this image as swap_s00_t00.png.")
    assert explorer.describe(SwapSettings(structure, structure))["hint"].startswith("my shot.png was uploaded")


def test_each_download_is_named_after_its_images_and_alpha(explorer, png_file):
    a = explorer.upload("Été 2024 (1).png", png_file(seed=1))["id"]
    b = explorer.upload('x"; y.jpg', png_file(seed=2))["id"]
    assert explorer.file_name(SwapSettings(a, b, 1.0)) == "swap-_t_2024_1_-x_y.png"
    assert explorer.file_name(SwapSettings(b, a, 0.25)) == "swap-x_y-_t_2024_1_-a0.25.png"


def test_a_downloads_alpha_is_written_as_its_command_writes_it(explorer, png_file):
    """0.3 and 0.1 + 0.2 are two images: their names differ, and each matches its command's --alpha."""
    a = explorer.upload("a.png", png_file(seed=1))["id"]
    for alpha, written in ((0.3, "0.3"), (0.1 + 0.2, "0.30000000000000004"), (0.0, "0.0")):
        settings = SwapSettings(a, a, alpha)
        assert explorer.file_name(settings) == f"swap-a-a-a{written}.png"
        assert explorer.commands(settings)[0].endswith(f" --alpha {written}")


def test_the_notes_of_the_two_images_shown_are_described_once_each(explorer, png_file):
    wide = explorer.upload("wide.png", png_file(40, 20))["id"]
    cut_out = explorer.upload("cut.png", png_file(mode="RGBA"))["id"]
    plain = explorer.upload("plain.png", png_file())["id"]
    assert explorer.describe(SwapSettings(wide, cut_out))["notes"] == [
        "wide.png: 40x20 image center-cropped to 20x20",
        "cut.png: alpha dropped: transparent pixels keep their stored colour"]
    assert explorer.describe(SwapSettings(wide, wide))["notes"] == ["wide.png: 40x20 image center-cropped to 20x20"]
    assert explorer.describe(SwapSettings(plain, plain))["notes"] == []
