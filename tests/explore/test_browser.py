"""A real browser (headless Chromium via Playwright) drives the page served by `stylegan2 explore`.

It moves the seed, psi and a direction slider, checks that the image changes each time, and that
the image shown equals, pixel for pixel, what the page's `stylegan2 generate` command writes; and it swaps
two uploaded images in the Swapping Autoencoder view.
"""

import base64
import contextlib
import io
import os
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
        ready, _, _ = select.select([process.stdout], [], [], 120)
        line = process.stdout.readline() if ready else "(no output within 120 s)\n"
        if "http://" not in line:
            pytest.fail(f"stylegan2 explore did not start: {line}{process.stdout.read()}")
        yield line.split("open ", 1)[1].split()[0]
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
    assert "--seeds 5 --trunc 0.7 --direction explore-directions/gan-all/directions.npz --index 1 --strength 1.5" in commands
    monkeypatch.chdir(tmp_path)
    np.testing.assert_array_equal(generate_output(commands, tmp_path), moved)


def test_a_bad_seed_shows_the_servers_message_and_keeps_the_last_image(page):
    before = shown_image(page)
    page.fill("#seed", "99999999999")
    wait_idle(page)
    assert page.text_content("#error") == "seed: 99999999999 is out of range; use 0..4294967295"
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
    assert "seed: -3 is out of range" in page.text_content("#error")
    assert page.get_attribute("#download-png", "href") == f"/api/image.png?{shown_query}"
    assert page.get_attribute("#download-w", "href") == f"/api/w.npz?{shown_query}"
    page.fill("#seed", "5")
    wait_idle(page)


def test_address_values_the_controls_cannot_hold_are_named_not_clamped(browser, gan_url):
    page = browser.new_page()
    page.goto(gan_url + "#seed=9&psi=3&d0=50&noise=bogus&d7=1")
    wait_idle(page)
    problems = page.text_content("#address-error").splitlines()
    assert problems == ["address: psi=3: not on the slider, which runs from -1 to 1.5 in steps of 0.05; showing 1",
                        "address: d0=50: not on the slider, which runs from -10 to 10 in steps of 0.1; showing 0",
                        "address: noise=bogus: not one of const, random, none; showing const",
                        "address: d7: not a setting of this page; ignored"]
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
        start = shown_image(page)
        press(page, "#d2", "ArrowLeft", 10)  # direction 2: 0 -> -1
        moved = shown_image(page)
        assert not np.array_equal(moved, start)
        assert page.get_attribute("#image", "data-query") == "w=0&psi=1&noise=const&d2=-1"
        page.wait_for_selector("#command:has-text('--strength -1')")
        commands = page.text_content("#command")
        assert f"--projected-w {projected} --direction explore-directions/gan-all/directions.npz --index 2" in commands
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
        page.wait_for_selector("#upload-note:has-text('wide.png')")
        assert page.text_content("#upload-note") == "wide.png: 40x20 image center-cropped to 20x20"
        page.close()


def test_the_swapae_view_swaps_two_uploaded_images(browser, swapae_file, png_file, tmp_path):
    from stylegan2.explore import SwapSettings, open_explorer

    for name, seed in (("structure.png", 1), ("texture.png", 2)):
        (tmp_path / name).write_bytes(png_file(seed=seed))
    with explorer_url(swapae_file) as url:
        page = browser.new_page()
        page.goto(url)
        wait_idle(page)
        assert "Upload a structure image" in page.text_content("#error")
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
