"""The Swapping Autoencoder view in a real browser: uploads, swaps, the address, the command and the notes."""

import numpy as np


def test_the_swapae_view_notes_an_upload_it_crops(ui, browser, swapae_file, png_file, tmp_path):
    (tmp_path / "wide.png").write_bytes(png_file(40, 20))
    with ui.explorer_url(swapae_file) as url:
        page = browser.new_page()
        page.goto(url)
        ui.wait_idle(page)
        page.set_input_files("#structure-upload", str(tmp_path / "wide.png"))
        page.wait_for_selector("#image-notes:has-text('wide.png')")
        assert page.text_content("#image-notes") == "wide.png: 40x20 image center-cropped to 20x20"
        page.close()


def test_the_swapae_address_command_and_notes_follow_the_images_shown(ui, browser, swapae_file, png_file, tmp_path):
    folder = tmp_path / "pick"
    folder.mkdir()
    (folder / "a.png").write_bytes(png_file(seed=1))
    (folder / "cut.png").write_bytes(png_file(mode="RGBA", seed=2))
    (folder / "wide.png").write_bytes(png_file(40, 20, seed=3))
    with ui.explorer_url(swapae_file, "--images", str(folder)) as url:
        with ui.new_page(browser, url + "#structure=2&texture=1&alpha=0.5") as page:
            page.wait_for_selector("#image[data-query='structure=2&texture=1&alpha=0.5']")
            ui.wait_idle(page)
            assert [page.input_value(f"#{id}") for id in ("structure", "texture", "alpha")] == ["2", "1", "0.5"]
            assert page.text_content("#command") == (f"stylegan2 swapae swap --network {swapae_file} --structure "
                                                     f"{folder}/wide.png --texture {folder}/cut.png --alpha 0.5")
            assert page.text_content("#image-notes") == ("wide.png: 40x20 image center-cropped to 20x20\n"
                                                         "cut.png: alpha dropped: transparent pixels keep their stored colour")
            assert page.get_attribute("#download-png", "href") == "/api/image.png?structure=2&texture=1&alpha=0.5"
            page.focus("#alpha")
            page.keyboard.press("End")
            page.wait_for_selector("#image[data-query='structure=2&texture=1&alpha=1']")
            ui.wait_idle(page)
            assert page.evaluate("location.hash") == "#structure=2&texture=1&alpha=1"
            assert page.text_content("#image-notes").startswith("wide.png:")
        with ui.new_page(browser, url + "#structure=7&alpha=2") as page:
            assert page.text_content("#address-error") == (
                "address: structure=7: no image 7 here; the explorer holds images 0-2; showing 0\n"
                "address: alpha=2: not on the slider, which runs from 0 to 1 in steps of 0.05; showing 1")
            assert page.get_attribute("#image", "data-query") == "structure=0&texture=1&alpha=1"


def test_the_swapae_view_swaps_two_uploaded_images(ui, browser, swapae_file, png_file, tmp_path):
    from stylegan2.explore import SwapSettings, open_explorer

    for name, seed in (("structure.png", 1), ("texture.png", 2)):
        (tmp_path / name).write_bytes(png_file(seed=seed))
    with ui.explorer_url(swapae_file) as url:
        page = browser.new_page()
        page.goto(url)
        ui.wait_idle(page)
        assert page.is_visible("#swap-hint") and page.text_content("#error") == ""
        page.set_input_files("#structure-upload", str(tmp_path / "structure.png"))
        page.wait_for_selector("#texture option", state="attached")
        page.set_input_files("#texture-upload", str(tmp_path / "texture.png"))
        page.wait_for_selector("#image[data-query='structure=0&texture=1&alpha=1']")
        ui.wait_idle(page)
        swapped = ui.shown_image(page)
        page.focus("#alpha")
        page.keyboard.press("Home")  # alpha 0: the structure image's own texture
        page.wait_for_selector("#image[data-query='structure=0&texture=1&alpha=0']")
        ui.wait_idle(page)
        own = ui.shown_image(page)
        page.close()
    explorer = open_explorer(swapae_file, "cpu")
    for name in ("structure.png", "texture.png"):
        explorer.add(name, (tmp_path / name).read_bytes())
    np.testing.assert_array_equal(swapped, explorer.render(SwapSettings(0, 1, 1.0)))
    np.testing.assert_array_equal(own, explorer.render(SwapSettings(0, 1, 0.0)))


def test_a_swapae_address_naming_a_replaced_upload_is_refused_not_shown_as_another_image(ui, browser, swapae_file, png_file,
                                                                                        tmp_path):
    """Past 64 images an upload takes a new id; a bookmark of the replaced one is named, never shown as the new one."""
    from stylegan2.explore.swap import MAX_IMAGES, UPLOAD_PLACES

    folder = tmp_path / "pick"
    folder.mkdir()
    for i in range(MAX_IMAGES - UPLOAD_PLACES):
        (folder / f"img{i:02d}.png").write_bytes(png_file(seed=i))
    first = MAX_IMAGES - UPLOAD_PLACES  # the first upload's id

    def upload(page, name: str) -> int:
        sent = page.request.post(url + "api/swapae/upload", multipart={
            "image": {"name": name, "mimeType": "image/png", "buffer": png_file(seed=99)}})
        assert sent.ok, sent.text()
        return sent.json()["id"]

    with ui.explorer_url(swapae_file, "--images", str(folder)) as url:
        with ui.new_page(browser, url + f"#structure={first}&texture=0") as page:  # not uploaded yet
            assert page.text_content("#address-error").startswith(f"address: structure={first}: no image {first} here; ")
            assert [upload(page, f"u{i}.png") for i in range(UPLOAD_PLACES)] == list(range(first, MAX_IMAGES))
        with ui.new_page(browser, url + f"#structure={first}&texture=0&alpha=0.5") as page:  # the upload's bookmark
            assert page.get_attribute("#image", "data-query") == f"structure={first}&texture=0&alpha=0.5"
            assert page.text_content("#address-error") == ""
            assert upload(page, "new.png") == MAX_IMAGES  # replaces u0, the oldest upload: a new id
            page.focus("#alpha")
            page.keyboard.press("End")
            page.wait_for_selector("#error:has-text('no image')")
            assert page.text_content("#error") == (
                f"structure: no image {first} here (a newer upload replaced it: the explorer keeps at most {MAX_IMAGES} "
                f"images); the explorer holds images 0-{first - 1},{first + 1}-{MAX_IMAGES}")
        with ui.new_page(browser, url + f"#structure={first}&texture={MAX_IMAGES}") as page:
            assert page.text_content("#address-error") == (
                f"address: structure={first}: no image {first} here (a newer upload replaced it: the explorer keeps at "
                f"most {MAX_IMAGES} images); the explorer holds images 0-{first - 1},{first + 1}-{MAX_IMAGES}; showing 0")
            assert page.get_attribute("#image", "data-query") == f"structure=0&texture={MAX_IMAGES}&alpha=1"
            assert page.input_value("#texture") == str(MAX_IMAGES)
            assert page.text_content(f"#texture option[value='{MAX_IMAGES}']") == f"{MAX_IMAGES}: new.png"


def test_the_empty_swapae_view_gives_its_instructions_as_a_hint_without_broken_images(ui, browser, swap_url):
    with ui.new_page(browser, swap_url) as page:
        assert page.is_visible("#swap-hint") and page.text_content("#error") == ""
        assert page.eval_on_selector("#swap-hint", "p => getComputedStyle(p).color") != "rgb(187, 0, 0)"
        for image in ("#structure-image", "#texture-image", "#image"):
            assert page.eval_on_selector(image, "img => getComputedStyle(img).visibility") == "hidden"


def test_each_swapae_upload_is_named_and_kept_beside_its_list(ui, browser, swap_url):
    with ui.new_page(browser, swap_url, viewport={"width": 1280, "height": 800}) as page:
        for slot in ("structure", "texture"):
            assert page.get_by_label(f"Upload {slot} image").get_attribute("id") == f"{slot}-upload"
        structure, texture = page.locator("#structure").bounding_box(), page.locator("#texture").bounding_box()
        texture_upload = page.locator("#texture-upload").bounding_box()
        assert texture["y"] > structure["y"] + structure["height"] / 2  # the texture's row is below the structure's
        assert abs(texture_upload["y"] - texture["y"]) < texture["height"]  # and holds the texture's upload


def test_an_swapae_upload_the_server_does_not_answer_is_reported(ui, browser, swap_url, png_file, tmp_path):
    (tmp_path / "a.png").write_bytes(png_file())
    with ui.new_page(browser, swap_url) as page:
        page.route("**/api/swapae/upload", lambda route: route.abort())
        page.set_input_files("#structure-upload", str(tmp_path / "a.png"))
        page.wait_for_selector("#failure:has-text('does not answer')")
        assert page.text_content("#failure") == ("the explorer server does not answer (Failed to fetch); "
                                                 "is the stylegan2 explore command still running?")


def test_the_empty_swapae_view_disables_what_cannot_act_and_says_when_an_upload_is_under_way(ui, browser, swap_url,
                                                                                          png_file, tmp_path):
    (tmp_path / "a.png").write_bytes(png_file())
    with ui.new_page(browser, swap_url) as page:
        for control in ("#structure", "#texture", "#alpha"):
            assert page.is_disabled(control), control
        held = []
        page.route("**/api/swapae/upload", lambda route: held.append(route))
        page.set_input_files("#structure-upload", str(tmp_path / "a.png"))
        while not held:
            page.wait_for_timeout(20)
        assert page.text_content("#status") == "uploading a.png..."
        assert page.get_attribute("#structure-upload", "aria-disabled") == "true"
        held[0].continue_()
        page.wait_for_selector("#image[src]")
        ui.wait_idle(page)
        assert page.get_attribute("#structure-upload", "aria-disabled") is None
        assert page.is_enabled("#alpha") and page.is_enabled("#texture")
        name = page.input_value("#structure") + ": a.png"
        assert page.text_content("#structure option:checked") == name
        assert page.get_attribute("#image", "alt").startswith("swap of a.png (structure) and a.png (texture), alpha ")
        assert page.get_attribute("#structure-image", "alt") == "structure: a.png"
