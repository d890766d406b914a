"""A real browser (headless Chromium via Playwright) drives the page served by `stylegan2 explore`.

It moves the seed, psi and a direction slider, checks that the image changes each time, and that
the image shown equals, pixel for pixel, what the page's `stylegan2 generate` command writes; and it swaps
two uploaded images in the Swapping Autoencoder view.
"""

import base64
import contextlib
import io
import os
import re
import select
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner

from stylegan2.cli import main

pytest.importorskip("flask", reason="the explorer's server needs Flask: pip install \"stylegan2[explore]\"")
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs Playwright: pip install playwright")

CHROMIUM = os.environ.get("STYLEGAN2_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("the browser test needs Chromium: apt-get install chromium (or set STYLEGAN2_CHROMIUM)",
                allow_module_level=True)


@contextlib.contextmanager
def explorer_url(network: Path, *options: str) -> Iterator[str]:
    """Run `python -m stylegan2 explore` on a free port; yields the URL it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "stylegan2", "explore", "--network", str(network), "--port", "0", "--device", "cpu", *options],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"})
    try:
        said = ""  # notes (an --images image cropped, say) may come before the address
        while "http://" not in said.rpartition("\n")[0]:
            ready, _, _ = select.select([process.stdout], [], [], 120)
            line = process.stdout.readline() if ready else ""
            if not line:  # no output within 120 s, or the command ended
                process.kill()
                pytest.fail(f"stylegan2 explore did not start: {said}{process.stdout.read()}")
            said += line
        yield said.split("open ", 1)[1].split()[0]
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def gan_url(gan_file):
    with explorer_url(gan_file, "--top-k", "3") as url:
        yield url


@pytest.fixture(scope="module")
def page(browser, gan_url):
    page = browser.new_page()
    page.goto(gan_url)
    wait_idle(page)
    yield page
    page.close()


def wait_idle(page) -> None:
    page.wait_for_selector("body[data-state=idle]", timeout=30_000)


def wait_error(page) -> str:
    """The refusal under the image, once shown (a typed value's waits for a pause in the typing)."""
    page.wait_for_selector("#error:not(:empty)")
    return page.text_content("#error")


def shown_image(page) -> np.ndarray:
    """The exact bytes of the image on the page (not a screenshot, which the browser would scale)."""
    data = page.evaluate("""async () => {
        const bytes = new Uint8Array(await (await fetch(document.getElementById('image').src)).arrayBuffer());
        return btoa(String.fromCharCode(...bytes));
    }""")
    with PIL.Image.open(io.BytesIO(base64.b64decode(data))) as image:
        return np.asarray(image)


def press(page, selector: str, key: str, times: int) -> None:
    page.focus(selector)
    for _ in range(times):
        page.keyboard.press(key)
    wait_idle(page)


def generate_output(commands: str, workdir: Path) -> np.ndarray:
    """Run the page's commands as a user would; the one PNG that `generate` writes."""
    for command in commands.splitlines():
        args = shlex.split(command)[1:]
        if args[0] == "generate":
            args += ["--outdir", str(workdir / "out")]
        result = CliRunner().invoke(main, args + ["--device", "cpu"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    (path,) = (workdir / "out").glob("*.png")
    with PIL.Image.open(path) as image:
        return np.asarray(image)


def test_moving_seed_psi_and_a_direction_changes_the_image_as_generate_would(page, tmp_path, monkeypatch):
    start = shown_image(page)
    assert start.shape == (16, 16, 3)
    assert page.is_hidden("#class-label")  # unconditional network

    page.click("#seed-next")  # stepped: 0 -> 1
    wait_idle(page)
    page.fill("#seed", "5")  # typed
    wait_idle(page)
    seeded = shown_image(page)
    assert not np.array_equal(seeded, start)

    press(page, "#psi", "ArrowLeft", 6)  # 1 -> 0.7 in six steps, sent as fast as the keys come
    assert page.input_value("#psi") == "0.7"
    truncated = shown_image(page)
    assert not np.array_equal(truncated, seeded)

    press(page, "#d1", "ArrowRight", 15)  # direction 1: 0 -> 1.5
    assert page.input_value("#d1") == "1.5"
    moved = shown_image(page)
    assert not np.array_equal(moved, truncated)

    assert page.get_attribute("#image", "data-query") == "seed=5&psi=0.7&noise=const&d1=1.5"
    page.wait_for_selector("#command:has-text('--strength 1.5')")
    commands = page.text_content("#command")
    assert re.search(r"--seeds 5 --trunc 0\.7 --direction explore-directions/gan-[0-9a-f]{8}-all/directions\.npz --index 1 "
                     r"--strength 1\.5", commands), commands
    monkeypatch.chdir(tmp_path)
    np.testing.assert_array_equal(generate_output(commands, tmp_path), moved)


def test_a_bad_seed_shows_the_servers_message_and_keeps_the_last_image(page):
    before = shown_image(page)
    page.fill("#seed", "99999999999")
    wait_idle(page)
    assert wait_error(page) == "seed: 99999999999 is out of range; use 0..4294967295"
    np.testing.assert_array_equal(shown_image(page), before)
    page.fill("#seed", "5")
    wait_idle(page)
    assert page.text_content("#error") == ""


def test_the_downloads_keep_the_image_shown_when_an_input_is_refused(page):
    page.fill("#seed", "7")
    wait_idle(page)
    shown_query = page.get_attribute("#image", "data-query")
    assert page.get_attribute("#download-png", "href") == f"/api/image.png?{shown_query}"
    page.fill("#seed", "-3")
    wait_idle(page)
    assert "seed: -3 is out of range" in wait_error(page)
    assert page.get_attribute("#download-png", "href") == f"/api/image.png?{shown_query}"
    assert page.get_attribute("#download-w", "href") == f"/api/w.npz?{shown_query}"
    page.fill("#seed", "5")
    wait_idle(page)


def test_address_values_the_controls_cannot_hold_are_named_not_clamped(browser, gan_url):
    page = browser.new_page()
    page.goto(gan_url + "#seed=9&psi=3&d0=50&noise=bogus&d7=1&cutoff=99")
    wait_idle(page)
    problems = page.text_content("#address-error").splitlines()
    assert problems == ["address: psi=3: not on the slider, which runs from -1 to 1.5 in steps of 0.05; showing 1",
                        "address: d0=50: not on the slider, which runs from -10 to 10 in steps of 0.1; showing 0",
                        "address: noise=bogus: not one of const, random, none; showing const",
                        "address: d7: not a setting of this page; ignored",
                        "address: cutoff=99: out of range; use 0..6; showing the default"]
    assert page.text_content("#error") == ""
    assert page.get_attribute("#image", "data-query") == "seed=9&psi=1&noise=const"  # what the controls show
    page.fill("#seed", "10")  # the address now holds the controls' values
    wait_idle(page)
    assert page.text_content("#address-error") == ""
    page.close()


def test_a_projected_start_is_edited_and_its_command_renders_it(browser, gan_file, tmp_path, monkeypatch):
    """The artist's loop: project a photo, then move along a direction from its w on the page."""
    from stylegan2.io import load_network
    from stylegan2.tools import seed_ws

    projected = tmp_path / "me" / "projected_w.npz"
    projected.parent.mkdir()
    np.savez(projected, w=seed_ws(load_network(gan_file)["G_ema"], 11).numpy())
    with explorer_url(gan_file, "--top-k", "3", "--projected-w", str(projected)) as url:
        page = browser.new_page()
        page.goto(url)
        wait_idle(page)
        assert page.text_content("#seed-name") == "Projected w" and "starting from projected_w.npz" in page.text_content("#network")
        for button in ("#seed-prev", "#seed-next", "#seed-random"):  # the file holds one w: nothing to step to
            assert page.is_disabled(button)
        start = shown_image(page)
        press(page, "#d2", "ArrowLeft", 10)  # direction 2: 0 -> -1
        moved = shown_image(page)
        assert not np.array_equal(moved, start)
        assert page.get_attribute("#image", "data-query") == "w=0&psi=1&noise=const&d2=-1"
        page.wait_for_selector("#command:has-text('--strength -1')")
        commands = page.text_content("#command")
        assert re.search(rf"--projected-w {re.escape(str(projected))} --direction explore-directions/gan-[0-9a-f]{{8}}-all/"
                         r"directions\.npz --index 2", commands), commands
        assert page.text_content("#layers tbody tr td:nth-child(3)") == "projected w 0"
        monkeypatch.chdir(tmp_path)
        np.testing.assert_array_equal(generate_output(commands, tmp_path), moved)
        page.close()


def test_the_swapae_view_notes_an_upload_it_crops(browser, swapae_file, png_file, tmp_path):
    (tmp_path / "wide.png").write_bytes(png_file(40, 20))
    with explorer_url(swapae_file) as url:
        page = browser.new_page()
        page.goto(url)
        wait_idle(page)
        page.set_input_files("#structure-upload", str(tmp_path / "wide.png"))
        page.wait_for_selector("#image-notes:has-text('wide.png')")
        assert page.text_content("#image-notes") == "wide.png: 40x20 image center-cropped to 20x20"
        page.close()


def test_the_swapae_address_command_and_notes_follow_the_images_shown(browser, swapae_file, png_file, tmp_path):
    folder = tmp_path / "pick"
    folder.mkdir()
    (folder / "a.png").write_bytes(png_file(seed=1))
    (folder / "cut.png").write_bytes(png_file(mode="RGBA", seed=2))
    (folder / "wide.png").write_bytes(png_file(40, 20, seed=3))
    with explorer_url(swapae_file, "--images", str(folder)) as url:
        with new_page(browser, url + "#structure=2&texture=1&alpha=0.5") as page:
            page.wait_for_selector("#image[data-query='structure=2&texture=1&alpha=0.5']")
            wait_idle(page)
            assert [page.input_value(f"#{id}") for id in ("structure", "texture", "alpha")] == ["2", "1", "0.5"]
            assert page.text_content("#command") == (f"stylegan2 swapae swap --network {swapae_file} --structure "
                                                     f"{folder}/wide.png --texture {folder}/cut.png --alpha 0.5")
            assert page.text_content("#image-notes") == ("wide.png: 40x20 image center-cropped to 20x20\n"
                                                         "cut.png: alpha dropped: transparent pixels keep their stored colour")
            assert page.get_attribute("#download-png", "href") == "/api/image.png?structure=2&texture=1&alpha=0.5"
            page.focus("#alpha")
            page.keyboard.press("End")
            page.wait_for_selector("#image[data-query='structure=2&texture=1&alpha=1']")
            wait_idle(page)
            assert page.evaluate("location.hash") == "#structure=2&texture=1&alpha=1"
            assert page.text_content("#image-notes").startswith("wide.png:")
        with new_page(browser, url + "#structure=7&alpha=2") as page:
            assert page.text_content("#address-error") == (
                "address: structure=7: no image 7 here; the explorer holds images 0-2; showing 0\n"
                "address: alpha=2: not on the slider, which runs from 0 to 1 in steps of 0.05; showing 1")
            assert page.get_attribute("#image", "data-query") == "structure=0&texture=1&alpha=1"


def test_the_swapae_view_swaps_two_uploaded_images(browser, swapae_file, png_file, tmp_path):
    from stylegan2.explore import SwapSettings, open_explorer

    for name, seed in (("structure.png", 1), ("texture.png", 2)):
        (tmp_path / name).write_bytes(png_file(seed=seed))
    with explorer_url(swapae_file) as url:
        page = browser.new_page()
        page.goto(url)
        wait_idle(page)
        assert page.is_visible("#swap-hint") and page.text_content("#error") == ""
        page.set_input_files("#structure-upload", str(tmp_path / "structure.png"))
        page.wait_for_selector("#texture option", state="attached")
        page.set_input_files("#texture-upload", str(tmp_path / "texture.png"))
        page.wait_for_selector("#image[data-query='structure=0&texture=1&alpha=1']")
        wait_idle(page)
        swapped = shown_image(page)
        page.focus("#alpha")
        page.keyboard.press("Home")  # alpha 0: the structure image's own texture
        page.wait_for_selector("#image[data-query='structure=0&texture=1&alpha=0']")
        wait_idle(page)
        own = shown_image(page)
        page.close()
    explorer = open_explorer(swapae_file, "cpu")
    for name in ("structure.png", "texture.png"):
        explorer.add(name, (tmp_path / name).read_bytes())
    np.testing.assert_array_equal(swapped, explorer.render(SwapSettings(0, 1, 1.0)))
    np.testing.assert_array_equal(own, explorer.render(SwapSettings(0, 1, 0.0)))


def test_a_swapae_address_naming_a_replaced_upload_is_refused_not_shown_as_another_image(browser, swapae_file, png_file,
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

    with explorer_url(swapae_file, "--images", str(folder)) as url:
        with new_page(browser, url + f"#structure={first}&texture=0") as page:  # not uploaded yet
            assert page.text_content("#address-error").startswith(f"address: structure={first}: no image {first} here; ")
            assert [upload(page, f"u{i}.png") for i in range(UPLOAD_PLACES)] == list(range(first, MAX_IMAGES))
        with new_page(browser, url + f"#structure={first}&texture=0&alpha=0.5") as page:  # the upload's bookmark
            assert page.get_attribute("#image", "data-query") == f"structure={first}&texture=0&alpha=0.5"
            assert page.text_content("#address-error") == ""
            assert upload(page, "new.png") == MAX_IMAGES  # replaces u0, the oldest upload: a new id
            page.focus("#alpha")
            page.keyboard.press("End")
            page.wait_for_selector("#error:has-text('no image')")
            assert page.text_content("#error") == (
                f"structure: no image {first} here (a newer upload replaced it: the explorer keeps at most {MAX_IMAGES} "
                f"images); the explorer holds images 0-{first - 1},{first + 1}-{MAX_IMAGES}")
        with new_page(browser, url + f"#structure={first}&texture={MAX_IMAGES}") as page:
            assert page.text_content("#address-error") == (
                f"address: structure={first}: no image {first} here (a newer upload replaced it: the explorer keeps at "
                f"most {MAX_IMAGES} images); the explorer holds images 0-{first - 1},{first + 1}-{MAX_IMAGES}; showing 0")
            assert page.get_attribute("#image", "data-query") == f"structure=0&texture={MAX_IMAGES}&alpha=1"
            assert page.input_value("#texture") == str(MAX_IMAGES)
            assert page.text_content(f"#texture option[value='{MAX_IMAGES}']") == f"{MAX_IMAGES}: new.png"


@pytest.fixture(scope="module")
def swap_url(swapae_file):
    """A SwapAE explorer that no test uploads to: it stays empty."""
    with explorer_url(swapae_file) as url:
        yield url


@contextlib.contextmanager
def new_page(browser, url: str, **options) -> Iterator:
    """A fresh page at `url`, idle; closed afterwards."""
    page = browser.new_page(**options)
    try:
        page.goto(url)
        wait_idle(page)
        yield page
    finally:
        page.close()


def set_fields(page, *changes: tuple[str, str]) -> None:
    """Give each (selector, value) its value with an input event, all within one task: as keystrokes come while a
    render is in flight."""
    page.evaluate("""(changes) => {
        for (const [selector, value] of changes) {
            const field = document.querySelector(selector);
            field.value = value;
            field.dispatchEvent(new Event("input"));
        }
    }""", [list(change) for change in changes])


def test_each_tab_sends_its_own_client_id_with_its_renders(browser, gan_url):
    """The server drops a waiting render only for a newer one from the same tab (H1: three tabs on one server)."""
    clients = []
    for _ in range(2):
        page = browser.new_page()
        sent = []
        page.on("request", lambda request, sent=sent: sent.append(request.url) if "/api/render?" in request.url else None)
        page.goto(gan_url)
        wait_idle(page)
        page.click("#seed-next")
        wait_idle(page)
        ids = {dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&")).get("client") for url in sent}
        assert len(sent) == 2 and len(ids) == 1 and None not in ids
        clients.append(ids.pop())
        page.close()
    assert clients[0] != clients[1]


@pytest.mark.parametrize("field, previous, good, bad", [
    ("#seed", "3", "4", "4294967296"),
    ("#cutoff", "", "2", "99"),
    ("#mix-styles", "0-3", "0-1", "0-"),
])
def test_after_a_refused_value_the_command_table_and_downloads_describe_the_image_shown(
        browser, gan_url, field, previous, good, bad):
    """The last keystroke makes the value invalid while the one before it renders: everything follows that image."""
    with new_page(browser, gan_url + "#seed=3&psi=0.5&noise=const&mix_seed=9&mix_styles=0-3") as page:
        page.fill(field, previous)
        wait_idle(page)
        set_fields(page, (field, good), (field, bad))
        wait_idle(page)
        wait_error(page)  # the bad value was refused
        shown = page.get_attribute("#image", "data-query")
        assert f"={good}" in shown
        expected = page.request.get(f"{gan_url}api/describe?{shown}").json()
        assert page.text_content("#command") == "\n".join(expected["commands"])
        rows = page.eval_on_selector_all("#layers tbody tr", "rows => rows.map(r => [r.cells[2].textContent, "
                                                             "r.cells[3].textContent])")
        assert rows == [[f"seed {layer['seed']}",
                         ", ".join(f for f, on in (("truncated", layer["truncated"]), ("moved", layer["moved"])) if on)]
                        for layer in expected["layers"]]
        mixed = page.eval_on_selector_all("#layers tbody tr", "rows => rows.map(r => r.className === 'mixed')")
        assert mixed == [layer["mixed"] for layer in expected["layers"]]
        assert page.get_attribute("#download-png", "href") == f"/api/image.png?{shown}"
        assert page.get_attribute("#download-w", "href") == f"/api/w.npz?{shown}"


def test_an_address_opened_in_the_same_tab_is_shown_and_back_returns(browser, gan_url):
    """A bookmark or pasted address that differs after # does not reload the page; the page follows it."""
    with new_page(browser, gan_url + "#seed=7&psi=0.7&noise=const&d1=1") as page:
        page.goto(gan_url + "#seed=42&psi=0.5")
        page.wait_for_selector("#image[data-query='seed=42&psi=0.5&noise=const']")  # d1 not in it: back to 0
        wait_idle(page)
        assert page.input_value("#seed") == "42" and page.input_value("#d1") == "0"
        assert "--seeds 42 --trunc 0.5" in page.text_content("#command")
        page.go_back()
        page.wait_for_selector("#image[data-query='seed=7&psi=0.7&noise=const&d1=1']")
        assert page.input_value("#seed") == "7"


def image_rendering(page, selector: str = "#image") -> str:
    return page.eval_on_selector(selector, "img => getComputedStyle(img).imageRendering")


def test_a_small_network_is_enlarged_in_sharp_pixels_and_a_large_one_shrunk_smoothly(browser, gan_url):
    with new_page(browser, gan_url) as page:  # 16 px shown at 256
        assert image_rendering(page) == "pixelated"

    def as_512_px(route):
        info = route.fetch().json()
        route.fulfill(json={**info, "width": 512, "height": 512})

    page = browser.new_page()
    page.route("**/api/info", as_512_px)
    page.goto(gan_url)
    page.wait_for_selector("body:not([data-state=loading])", state="attached")
    assert image_rendering(page) == "auto"
    page.close()


@pytest.mark.parametrize("view", ["gan", "swapae"])
def test_at_phone_width_the_page_is_no_wider_than_the_screen(browser, gan_url, swap_url, view):
    url = gan_url + "#seed=5&psi=0.7&noise=const&mix_seed=9&mix_styles=0-3&d0=1&d1=2" if view == "gan" else swap_url
    with new_page(browser, url, viewport={"width": 375, "height": 800}) as page:
        assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_a_render_in_flight_is_shown_as_rendering(page):
    held = []
    page.route("**/api/render*", lambda route: held.append(route))
    try:
        assert page.text_content("#status").startswith("shown: ")
        page.click("#seed-next")
        while not held:
            page.wait_for_timeout(20)
        assert page.text_content("#status") == "rendering..." and page.is_visible("#status")
        held[0].continue_()
    finally:
        page.unroute("**/api/render*")
    wait_idle(page)
    assert page.text_content("#status").startswith("shown: ")


def test_the_direction_sliders_have_names(page):
    assert page.get_by_role("slider", name="Direction 1").get_attribute("id") == "d1"


def test_the_mixing_fields_are_disabled_while_style_mixing_is_off(page):
    page.set_checked("#mix-on", False)
    wait_idle(page)
    assert page.is_disabled("#mix-seed") and page.is_disabled("#mix-styles") and page.is_visible("#mix-hint")
    page.set_checked("#mix-on", True)
    wait_idle(page)
    assert page.is_enabled("#mix-seed") and page.is_enabled("#mix-styles") and page.is_hidden("#mix-hint")
    page.set_checked("#mix-on", False)
    wait_idle(page)


def test_the_controls_are_named_in_plain_words(page):
    controls = page.text_content(".controls")
    for jargon in ("Its ws", "ws per layer", "eig "):
        assert jargon not in controls
    assert page.get_by_label("Styles taken from it").get_attribute("id") == "mix-styles"


def test_a_server_that_does_not_answer_is_reported_without_shell_quotes(page):
    page.route("**/api/render*", lambda route: route.abort())
    try:
        page.click("#seed-next")
        wait_idle(page)
    finally:
        page.unroute("**/api/render*")
    assert page.text_content("#failure") == ("the explorer server does not answer (Failed to fetch); "
                                             "is the stylegan2 explore command still running?")
    page.click("#seed-prev")
    wait_idle(page)
    assert page.text_content("#failure") == ""


def test_the_downloads_are_disabled_until_an_image_is_shown(browser, gan_url):
    with new_page(browser, gan_url + "#seed=1.5&psi=1&noise=const") as page:  # the first render is refused
        assert "not a whole number" in page.text_content("#error")
        for link in ("#download-png", "#download-w"):
            assert page.get_attribute(link, "href") is None and page.get_attribute(link, "aria-disabled") == "true"
        page.fill("#seed", "2")
        wait_idle(page)
        assert page.get_attribute("#download-png", "href") == "/api/image.png?seed=2&psi=1&noise=const"
        assert page.get_attribute("#download-png", "aria-disabled") == "false"


def test_a_class_the_network_lacks_names_the_valid_range(browser, cond_gan_file):
    with explorer_url(cond_gan_file, "--top-k", "1") as url:
        with new_page(browser, url + "#seed=9&class=500") as page:
            assert page.text_content("#address-error") == ("address: class=500: not a class of this network; use 0..3; "
                                                           "showing 0")
        with new_page(browser, url + "#seed=9&class=1&mix_seed=4&mix_styles=0-1&mix_class=7") as page:
            assert page.text_content("#address-error") == (
                "address: mix_class=7: not a class of this network; use 0..3, or leave mix_class out for the first "
                "seed's class; showing the default")


def test_the_second_seed_takes_the_class_picked_for_it(browser, cond_gan_file):
    with explorer_url(cond_gan_file, "--top-k", "1") as url:
        with new_page(browser, url + "#seed=9&class=1&mix_seed=4&mix_styles=0-1") as page:
            assert page.is_visible("#mix-class") and page.input_value("#mix-class") == ""
            page.select_option("#mix-class", "3")
            page.wait_for_selector("#image[data-query*='mix_class=3']")
            wait_idle(page)
            assert page.evaluate("location.hash").endswith("mix_class=3")
            assert page.text_content("#layers tbody tr:nth-child(1) td:nth-child(3)") == "seed 4, class 3"
            assert page.text_content("#layers tbody tr:nth-child(3) td:nth-child(3)") == "seed 9, class 1"
            page.uncheck("#mix-on")
            wait_idle(page)
            assert "mix_class" not in page.evaluate("location.hash") and page.is_disabled("#mix-class")


@pytest.fixture(scope="module")
def cluster_url(cluster_gan_file):
    with explorer_url(cluster_gan_file, "--top-k", "1") as url:
        yield url


def test_on_a_cluster_network_the_second_seeds_default_class_says_what_it_is(browser, cluster_gan_file, cluster_url):
    """With no cluster picked the second seed draws its own: the default option and the layer table say so."""
    from stylegan2.explore import open_explorer

    explorer = open_explorer(cluster_gan_file, "cpu", top_k=0)
    with new_page(browser, cluster_url + "#seed=3&mix_seed=9&mix_styles=0-1") as page:
        assert page.input_value("#class") == "" and page.input_value("#mix-class") == ""
        assert page.text_content("#mix-class option:checked") == "drawn from its own seed (as the first seed's is)"
        assert page.text_content("#layers tbody tr:nth-child(1) td:nth-child(3)") == (
            f"seed 9, cluster {explorer.drawn_class(9)} (drawn from the seed)")
        assert page.text_content("#layers tbody tr:nth-child(3) td:nth-child(3)") == (
            f"seed 3, cluster {explorer.drawn_class(3)} (drawn from the seed)")
        page.select_option("#class", "2")
        page.wait_for_selector("#image[data-query*='class=2']")
        wait_idle(page)
        assert page.text_content("#mix-class option:checked") == "the first seed's (2)"
        assert page.text_content("#layers tbody tr:nth-child(1) td:nth-child(3)") == "seed 9, class 2"


@pytest.mark.parametrize("view", ["gan", "swapae"])
def test_no_request_of_the_page_fails(browser, gan_url, swap_url, view):
    """No favicon.ico 404 in the console."""
    failed = []
    page = browser.new_page()
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    page.goto(gan_url if view == "gan" else swap_url)
    wait_idle(page)
    page.close()
    assert failed == []


def test_the_empty_swapae_view_gives_its_instructions_as_a_hint_without_broken_images(browser, swap_url):
    with new_page(browser, swap_url) as page:
        assert page.is_visible("#swap-hint") and page.text_content("#error") == ""
        assert page.eval_on_selector("#swap-hint", "p => getComputedStyle(p).color") != "rgb(187, 0, 0)"
        for image in ("#structure-image", "#texture-image", "#image"):
            assert page.eval_on_selector(image, "img => getComputedStyle(img).visibility") == "hidden"


def test_each_swapae_upload_is_named_and_kept_beside_its_list(browser, swap_url):
    with new_page(browser, swap_url, viewport={"width": 1280, "height": 800}) as page:
        for slot in ("structure", "texture"):
            assert page.get_by_label(f"Upload {slot} image").get_attribute("id") == f"{slot}-upload"
        structure, texture = page.locator("#structure").bounding_box(), page.locator("#texture").bounding_box()
        texture_upload = page.locator("#texture-upload").bounding_box()
        assert texture["y"] > structure["y"] + structure["height"] / 2  # the texture's row is below the structure's
        assert abs(texture_upload["y"] - texture["y"]) < texture["height"]  # and holds the texture's upload


def test_an_swapae_upload_the_server_does_not_answer_is_reported(browser, swap_url, png_file, tmp_path):
    (tmp_path / "a.png").write_bytes(png_file())
    with new_page(browser, swap_url) as page:
        page.route("**/api/swapae/upload", lambda route: route.abort())
        page.set_input_files("#structure-upload", str(tmp_path / "a.png"))
        page.wait_for_selector("#failure:has-text('does not answer')")
        assert page.text_content("#failure") == ("the explorer server does not answer (Failed to fetch); "
                                                 "is the stylegan2 explore command still running?")


# Keyboard, screen-reader and small-screen use (qa-a11y).

WATCH_LIVE_REGIONS = """() => {
    window.liveWrites = [];
    const live = (node) => node && node.closest && node.closest("[role=status], [role=alert], output:not([aria-live=off])");
    new MutationObserver((records) => {
        for (const record of records) {
            const region = live(record.target.nodeType === Node.TEXT_NODE ? record.target.parentElement : record.target);
            if (region) window.liveWrites.push(`${region.id}: ${region.textContent}`);
        }
    }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def live_writes(page) -> list[str]:
    """What was written into live regions (what a screen reader would announce) since WATCH_LIVE_REGIONS."""
    return page.evaluate("window.liveWrites")


def test_a_render_is_announced_once_and_the_alt_text_says_what_is_shown(browser, gan_url):
    with new_page(browser, gan_url + "#seed=5&psi=0.7&noise=const&d1=1.5") as page:
        assert page.get_attribute("#image", "alt") == "seed 5, psi 0.7, direction 1 +1.5"
        assert page.text_content("#status") == "shown: seed 5, psi 0.7, direction 1 +1.5"
        page.evaluate(WATCH_LIVE_REGIONS)
        page.click("#seed-next")
        page.wait_for_selector("#status:has-text('shown: seed 6')")
        # the slider readouts are not rewritten, nor announced: the sliders say their own values
        assert live_writes(page) == ["status: rendering...", "status: shown: seed 6, psi 0.7, direction 1 +1.5"]
        assert page.get_attribute("#psi-value", "aria-live") == "off" and page.get_attribute("#d0-value", "aria-live") == "off"


def test_a_mixed_image_is_described_in_its_alt_text(browser, gan_url):
    with new_page(browser, gan_url + "#seed=2&psi=1&cutoff=2&noise=random&mix_seed=9&mix_styles=0-3&d0=-1") as page:
        assert page.get_attribute("#image", "alt") == ("seed 2, psi 1 on the first 2 styles, noise random, "
                                                       "styles 0-3 from seed 9, direction 0 -1")


def test_a_value_being_typed_is_not_reported_at_each_keystroke(browser, gan_url):
    with new_page(browser, gan_url + "#seed=1&psi=1&noise=const&mix_seed=2&mix_styles=0-1") as page:
        assert page.get_attribute("#error", "role") == "status"  # polite: a refused value is no emergency
        page.evaluate(WATCH_LIVE_REGIONS)
        page.fill("#mix-styles", "")
        page.keyboard.type("0-3,5", delay=60)  # "0-" and "0-3," are refused on the way
        wait_idle(page)
        page.wait_for_timeout(1200)  # past the pause after which a refusal is shown
        assert page.get_attribute("#image", "data-query").endswith("mix_styles=0-3%2C5")
        assert not [write for write in live_writes(page) if write.startswith(("error", "failure"))]
        assert page.get_attribute("#mix-styles", "aria-invalid") is None


def test_a_refused_value_marks_its_field_until_it_is_fixed(browser, gan_url):
    with new_page(browser, gan_url + "#seed=1&psi=1&noise=const") as page:
        page.focus("#cutoff")
        page.keyboard.type("7")
        assert wait_error(page) == "cutoff: 7 is out of range; use 0..6"
        assert page.get_attribute("#cutoff", "aria-invalid") == "true"
        assert page.get_attribute("#cutoff", "aria-describedby").split() == ["cutoff-hint", "error"]
        assert page.get_attribute("#seed", "aria-invalid") is None
        page.keyboard.press("Backspace")  # empty: all styles
        page.wait_for_selector("#error:empty", state="attached")
        assert page.get_attribute("#cutoff", "aria-invalid") is None
        assert page.get_attribute("#cutoff", "aria-describedby") == "cutoff-hint"


def test_the_help_and_the_eigenvalues_are_visible_and_describe_their_controls(page, gan_url):
    for control, hint in (("#cutoff", "#cutoff-hint"), ("#mix-styles", "#mix-styles-hint")):
        assert page.get_attribute(control, "aria-describedby") == hint[1:] and page.is_visible(hint)
    eigenvalues = [d["eigenvalue"] for d in page.request.get(gan_url + "api/info").json()["directions"]]
    for i, eigenvalue in enumerate(eigenvalues):
        described = page.get_attribute(f"#d{i}", "aria-describedby")
        assert page.is_visible(f"#{described}")
        assert page.text_content(f"#{described}") == f"eigenvalue {eigenvalue:.2f}"


def test_the_buttons_say_what_they_do(page):
    for name in ("Previous seed", "Next seed", "Random seed", "Mix all styles (0-5)", "Mix coarse styles (0-3)",
                 "Mix middle styles (4-5)", "Reset directions"):
        assert page.get_by_role("button", name=name, exact=True).count() == 1
    assert page.get_by_role("group", name="Style mixing", exact=True).count() == 1
    assert page.get_by_role("columnheader", name="effect").count() == 1


def test_the_tab_is_named_after_the_network(page, gan_file):
    assert page.title() == f"{gan_file.name} - stylegan2 explore"


@pytest.mark.parametrize("width, height", [(683, 334), (360, 640)])  # a 1366x768 laptop at 200 %; a phone
def test_the_image_stays_on_screen_beside_or_above_the_focused_control(browser, gan_url, width, height):
    with new_page(browser, gan_url + "#seed=1&psi=1&noise=const", viewport={"width": width, "height": height}) as page:
        for control in ("#seed", "#mix-on", "#d2", "#directions-reset"):
            page.focus(control)
            image, focused = page.locator("#image").bounding_box(), page.locator(control).bounding_box()
            assert 0 <= image["y"] and image["y"] + image["height"] <= height, control
            assert image["y"] + image["height"] <= focused["y"] or image["x"] + image["width"] <= focused["x"], control
            assert focused["y"] + focused["height"] <= height, control


@pytest.mark.parametrize("view", ["gan", "swapae"])
def test_at_320_px_nothing_scrolls_sideways(browser, cluster_url, swap_url, view):
    """WCAG reflow: 1280 px at 400 %; a cluster network's long class option included."""
    url = cluster_url + "#seed=5&mix_seed=9&mix_styles=0-3" if view == "gan" else swap_url
    with new_page(browser, url, viewport={"width": 320, "height": 640}) as page:
        assert page.evaluate("document.documentElement.scrollWidth") <= 320


@pytest.mark.parametrize("answer, message", [
    ("abort", "the explorer server does not answer (Failed to fetch); is the stylegan2 explore command still running?"),
    ("500", "the explorer server could not describe its network (/api/info: boom); reload the page, and if this "
            "stays, restart stylegan2 explore"),
])
def test_without_the_networks_description_the_page_says_so_and_its_controls_are_disabled(browser, gan_url, answer,
                                                                                          message):
    page = browser.new_page()
    try:
        page.route("**/api/info", lambda route: route.abort() if answer == "abort"
                   else route.fulfill(status=500, json={"error": "boom"}))
        page.goto(gan_url)
        page.wait_for_selector("body[data-state=failed]", state="attached")
        assert page.text_content("#failure") == message
        for control in ("#seed", "#seed-next", "#psi", "#mix-on", "#directions-reset"):
            assert page.is_disabled(control), control
    finally:
        page.close()


def test_a_server_silent_for_30_s_is_reported_and_the_image_still_comes(browser, gan_url):
    page = browser.new_page()
    try:
        page.clock.install()
        page.goto(gan_url + "#seed=1&psi=1&noise=const")
        wait_idle(page)
        held = []
        page.route("**/api/render*", lambda route: held.append(route))
        page.click("#seed-next")
        while not held:
            page.wait_for_timeout(20)
        page.clock.run_for(29_000)
        assert page.text_content("#failure") == ""
        page.clock.run_for(2_000)
        assert page.text_content("#failure").startswith("no answer from the explorer server for 30 s")
        held[0].continue_()
        page.wait_for_selector("#image[data-query='seed=2&psi=1&noise=const']")
        wait_idle(page)
        assert page.text_content("#failure") == ""
    finally:
        page.close()


def test_the_empty_swapae_view_disables_what_cannot_act_and_says_when_an_upload_is_under_way(browser, swap_url,
                                                                                          png_file, tmp_path):
    (tmp_path / "a.png").write_bytes(png_file())
    with new_page(browser, swap_url) as page:
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
        wait_idle(page)
        assert page.get_attribute("#structure-upload", "aria-disabled") is None
        assert page.is_enabled("#alpha") and page.is_enabled("#texture")
        name = page.input_value("#structure") + ": a.png"
        assert page.text_content("#structure option:checked") == name
        assert page.get_attribute("#image", "alt").startswith("swap of a.png (structure) and a.png (texture), alpha ")
        assert page.get_attribute("#structure-image", "alt") == "structure: a.png"
