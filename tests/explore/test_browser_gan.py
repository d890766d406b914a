"""The GAN view in a real browser (headless Chromium via Playwright, see conftest.py): moving the seed, psi and a
direction slider changes the image, which equals, pixel for pixel, what the page's `stylegan2 generate` command
writes; refused values, addresses, downloads and the renderer's states."""

import re

import numpy as np
import pytest


def test_moving_seed_psi_and_a_direction_changes_the_image_as_generate_would(ui, page, tmp_path, monkeypatch):
    start = ui.shown_image(page)
    assert start.shape == (16, 16, 3)
    assert page.is_hidden("#class-label")  # unconditional network

    page.click("#seed-next")  # stepped: 0 -> 1
    ui.wait_idle(page)
    page.fill("#seed", "5")  # typed
    ui.wait_idle(page)
    seeded = ui.shown_image(page)
    assert not np.array_equal(seeded, start)

    ui.press(page, "#psi", "ArrowLeft", 6)  # 1 -> 0.7 in six steps, sent as fast as the keys come
    assert page.input_value("#psi") == "0.7"
    truncated = ui.shown_image(page)
    assert not np.array_equal(truncated, seeded)

    ui.press(page, "#d1", "ArrowRight", 15)  # direction 1: 0 -> 1.5
    assert page.input_value("#d1") == "1.5"
    moved = ui.shown_image(page)
    assert not np.array_equal(moved, truncated)

    assert page.get_attribute("#image", "data-query") == "seed=5&psi=0.7&noise=const&d1=1.5"
    page.wait_for_selector("#command:has-text('--strength 1.5')")
    commands = page.text_content("#command")
    assert re.search(r"--seeds 5 --trunc 0\.7 --direction explore-directions/gan-[0-9a-f]{8}-all/directions\.npz --index 1 "
                     r"--strength 1\.5", commands), commands
    monkeypatch.chdir(tmp_path)
    np.testing.assert_array_equal(ui.generate_output(commands, tmp_path), moved)


def test_a_bad_seed_shows_the_servers_message_and_keeps_the_last_image(ui, page):
    before = ui.shown_image(page)
    page.fill("#seed", "99999999999")
    ui.wait_idle(page)
    assert ui.wait_error(page) == "seed: 99999999999 is out of range; use 0..4294967295"
    np.testing.assert_array_equal(ui.shown_image(page), before)
    page.fill("#seed", "5")
    ui.wait_idle(page)
    assert page.text_content("#error") == ""


def test_the_downloads_keep_the_image_shown_when_an_input_is_refused(ui, page):
    page.fill("#seed", "7")
    ui.wait_idle(page)
    shown_query = page.get_attribute("#image", "data-query")
    assert page.get_attribute("#download-png", "href") == f"/api/image.png?{shown_query}"
    page.fill("#seed", "-3")
    ui.wait_idle(page)
    assert "seed: -3 is out of range" in ui.wait_error(page)
    assert page.get_attribute("#download-png", "href") == f"/api/image.png?{shown_query}"
    assert page.get_attribute("#download-w", "href") == f"/api/w.npz?{shown_query}"
    page.fill("#seed", "5")
    ui.wait_idle(page)


def test_address_values_the_controls_cannot_hold_are_named_not_clamped(ui, browser, gan_url):
    page = browser.new_page()
    page.goto(gan_url + "#seed=9&psi=3&d0=50&noise=bogus&d7=1&cutoff=99")
    ui.wait_idle(page)
    problems = page.text_content("#address-error").splitlines()
    assert problems == ["address: psi=3: not on the slider, which runs from -1 to 1.5 in steps of 0.05; showing 1",
                        "address: d0=50: not on the slider, which runs from -10 to 10 in steps of 0.1; showing 0",
                        "address: noise=bogus: not one of const, random, none; showing const",
                        "address: d7: not a setting of this page; ignored",
                        "address: cutoff=99: out of range; use 0..6; showing the default"]
    assert page.text_content("#error") == ""
    assert page.get_attribute("#image", "data-query") == "seed=9&psi=1&noise=const"  # what the controls show
    page.fill("#seed", "10")  # the address now holds the controls' values
    ui.wait_idle(page)
    assert page.text_content("#address-error") == ""
    page.close()


def test_a_projected_start_is_edited_and_its_command_renders_it(ui, browser, gan_file, tmp_path, monkeypatch):
    """The artist's loop: project a photo, then move along a direction from its w on the page."""
    from stylegan2.io import load_network
    from stylegan2.tools import seed_ws

    projected = tmp_path / "me" / "projected_w.npz"
    projected.parent.mkdir()
    np.savez(projected, w=seed_ws(load_network(gan_file)["G_ema"], 11).numpy())
    with ui.explorer_url(gan_file, "--top-k", "3", "--projected-w", str(projected)) as url:
        page = browser.new_page()
        page.goto(url)
        ui.wait_idle(page)
        assert page.text_content("#seed-name") == "Projected w" and "starting from projected_w.npz" in page.text_content("#network")
        for button in ("#seed-prev", "#seed-next", "#seed-random"):  # the file holds one w: nothing to step to
            assert page.is_disabled(button)
        start = ui.shown_image(page)
        ui.press(page, "#d2", "ArrowLeft", 10)  # direction 2: 0 -> -1
        moved = ui.shown_image(page)
        assert not np.array_equal(moved, start)
        assert page.get_attribute("#image", "data-query") == "w=0&psi=1&noise=const&d2=-1"
        page.wait_for_selector("#command:has-text('--strength -1')")
        commands = page.text_content("#command")
        assert re.search(rf"--projected-w {re.escape(str(projected))} --direction explore-directions/gan-[0-9a-f]{{8}}-all/"
                         r"directions\.npz --index 2", commands), commands
        assert page.text_content("#layers tbody tr td:nth-child(3)") == "projected w 0"
        monkeypatch.chdir(tmp_path)
        np.testing.assert_array_equal(ui.generate_output(commands, tmp_path), moved)
        page.close()

def test_each_tab_sends_its_own_client_id_with_its_renders(ui, browser, gan_url):
    """The server drops a waiting render only for a newer one from the same tab (H1: three tabs on one server)."""
    clients = []
    for _ in range(2):
        page = browser.new_page()
        sent = []
        page.on("request", lambda request, sent=sent: sent.append(request.url) if "/api/render?" in request.url else None)
        page.goto(gan_url)
        ui.wait_idle(page)
        page.click("#seed-next")
        ui.wait_idle(page)
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
        ui, browser, gan_url, field, previous, good, bad):
    """The last keystroke makes the value invalid while the one before it renders: everything follows that image."""
    with ui.new_page(browser, gan_url + "#seed=3&psi=0.5&noise=const&mix_seed=9&mix_styles=0-3") as page:
        page.fill(field, previous)
        ui.wait_idle(page)
        ui.set_fields(page, (field, good), (field, bad))
        ui.wait_idle(page)
        ui.wait_error(page)  # the bad value was refused
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


def test_an_address_opened_in_the_same_tab_is_shown_and_back_returns(ui, browser, gan_url):
    """A bookmark or pasted address that differs after # does not reload the page; the page follows it."""
    with ui.new_page(browser, gan_url + "#seed=7&psi=0.7&noise=const&d1=1") as page:
        page.goto(gan_url + "#seed=42&psi=0.5")
        page.wait_for_selector("#image[data-query='seed=42&psi=0.5&noise=const']")  # d1 not in it: back to 0
        ui.wait_idle(page)
        assert page.input_value("#seed") == "42" and page.input_value("#d1") == "0"
        assert "--seeds 42 --trunc 0.5" in page.text_content("#command")
        page.go_back()
        page.wait_for_selector("#image[data-query='seed=7&psi=0.7&noise=const&d1=1']")
        assert page.input_value("#seed") == "7"


def image_rendering(page, selector: str = "#image") -> str:
    return page.eval_on_selector(selector, "img => getComputedStyle(img).imageRendering")


def test_a_small_network_is_enlarged_in_sharp_pixels_and_a_large_one_shrunk_smoothly(ui, browser, gan_url):
    with ui.new_page(browser, gan_url) as page:  # 16 px shown at 256
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


def test_a_render_in_flight_is_shown_as_rendering(ui, page):
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
    ui.wait_idle(page)
    assert page.text_content("#status").startswith("shown: ")


def test_the_mixing_fields_are_disabled_while_style_mixing_is_off(ui, page):
    page.set_checked("#mix-on", False)
    ui.wait_idle(page)
    assert page.is_disabled("#mix-seed") and page.is_disabled("#mix-styles") and page.is_visible("#mix-hint")
    page.set_checked("#mix-on", True)
    ui.wait_idle(page)
    assert page.is_enabled("#mix-seed") and page.is_enabled("#mix-styles") and page.is_hidden("#mix-hint")
    page.set_checked("#mix-on", False)
    ui.wait_idle(page)


def test_a_server_that_does_not_answer_is_reported_without_shell_quotes(ui, page):
    page.route("**/api/render*", lambda route: route.abort())
    try:
        page.click("#seed-next")
        ui.wait_idle(page)
    finally:
        page.unroute("**/api/render*")
    assert page.text_content("#failure") == ("the explorer server does not answer (Failed to fetch); "
                                             "is the stylegan2 explore command still running?")
    page.click("#seed-prev")
    ui.wait_idle(page)
    assert page.text_content("#failure") == ""


def test_the_downloads_are_disabled_until_an_image_is_shown(ui, browser, gan_url):
    with ui.new_page(browser, gan_url + "#seed=1.5&psi=1&noise=const") as page:  # the first render is refused
        assert "not a whole number" in page.text_content("#error")
        for link in ("#download-png", "#download-w"):
            assert page.get_attribute(link, "href") is None and page.get_attribute(link, "aria-disabled") == "true"
        page.fill("#seed", "2")
        ui.wait_idle(page)
        assert page.get_attribute("#download-png", "href") == "/api/image.png?seed=2&psi=1&noise=const"
        assert page.get_attribute("#download-png", "aria-disabled") == "false"


