"""Keyboard, screen-reader and small-screen use of the page (qa-a11y), in a real browser."""

import pytest


@pytest.mark.parametrize("view", ["gan", "swapae"])
def test_at_phone_width_the_page_is_no_wider_than_the_screen(ui, browser, gan_url, swap_url, view):
    url = gan_url + "#seed=5&psi=0.7&noise=const&mix_seed=9&mix_styles=0-3&d0=1&d1=2" if view == "gan" else swap_url
    with ui.new_page(browser, url, viewport={"width": 375, "height": 800}) as page:
        assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_the_direction_sliders_have_names(page):
    assert page.get_by_role("slider", name="Direction 1").get_attribute("id") == "d1"


def test_the_controls_are_named_in_plain_words(page):
    controls = page.text_content(".controls")
    for jargon in ("Its ws", "ws per layer", "eig "):
        assert jargon not in controls
    assert page.get_by_label("Styles taken from it").get_attribute("id") == "mix-styles"


@pytest.mark.parametrize("view", ["gan", "swapae"])
def test_no_request_of_the_page_fails(ui, browser, gan_url, swap_url, view):
    """No favicon.ico 404 in the console."""
    failed = []
    page = browser.new_page()
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    page.goto(gan_url if view == "gan" else swap_url)
    ui.wait_idle(page)
    page.close()
    assert failed == []


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


def test_a_render_is_announced_once_and_the_alt_text_says_what_is_shown(ui, browser, gan_url):
    with ui.new_page(browser, gan_url + "#seed=5&psi=0.7&noise=const&d1=1.5") as page:
        assert page.get_attribute("#image", "alt") == "seed 5, psi 0.7, direction 1 +1.5"
        assert page.text_content("#status") == "shown: seed 5, psi 0.7, direction 1 +1.5"
        page.evaluate(WATCH_LIVE_REGIONS)
        page.click("#seed-next")
        page.wait_for_selector("#status:has-text('shown: seed 6')")
        # the slider readouts are not rewritten, nor announced: the sliders say their own values
        assert live_writes(page) == ["status: rendering...", "status: shown: seed 6, psi 0.7, direction 1 +1.5"]
        assert page.get_attribute("#psi-value", "aria-live") == "off" and page.get_attribute("#d0-value", "aria-live") == "off"


def test_a_mixed_image_is_described_in_its_alt_text(ui, browser, gan_url):
    with ui.new_page(browser, gan_url + "#seed=2&psi=1&cutoff=2&noise=random&mix_seed=9&mix_styles=0-3&d0=-1") as page:
        assert page.get_attribute("#image", "alt") == ("seed 2, psi 1 on the first 2 styles, noise random, "
                                                       "styles 0-3 from seed 9, direction 0 -1")


def test_a_value_being_typed_is_not_reported_at_each_keystroke(ui, browser, gan_url):
    with ui.new_page(browser, gan_url + "#seed=1&psi=1&noise=const&mix_seed=2&mix_styles=0-1") as page:
        assert page.get_attribute("#error", "role") == "status"  # polite: a refused value is no emergency
        page.evaluate(WATCH_LIVE_REGIONS)
        page.fill("#mix-styles", "")
        page.keyboard.type("0-3,5", delay=60)  # "0-" and "0-3," are refused on the way
        ui.wait_idle(page)
        page.wait_for_timeout(1200)  # past the pause after which a refusal is shown
        assert page.get_attribute("#image", "data-query").endswith("mix_styles=0-3%2C5")
        assert not [write for write in live_writes(page) if write.startswith(("error", "failure"))]
        assert page.get_attribute("#mix-styles", "aria-invalid") is None


def test_a_refused_value_marks_its_field_until_it_is_fixed(ui, browser, gan_url):
    with ui.new_page(browser, gan_url + "#seed=1&psi=1&noise=const") as page:
        page.focus("#cutoff")
        page.keyboard.type("7")
        assert ui.wait_error(page) == "cutoff: 7 is out of range; use 0..6"
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
def test_the_image_stays_on_screen_beside_or_above_the_focused_control(ui, browser, gan_url, width, height):
    with ui.new_page(browser, gan_url + "#seed=1&psi=1&noise=const", viewport={"width": width, "height": height}) as page:
        for control in ("#seed", "#mix-on", "#d2", "#directions-reset"):
            page.focus(control)
            image, focused = page.locator("#image").bounding_box(), page.locator(control).bounding_box()
            assert 0 <= image["y"] and image["y"] + image["height"] <= height, control
            assert image["y"] + image["height"] <= focused["y"] or image["x"] + image["width"] <= focused["x"], control
            assert focused["y"] + focused["height"] <= height, control


@pytest.mark.parametrize("view", ["gan", "swapae"])
def test_at_320_px_nothing_scrolls_sideways(ui, browser, cluster_url, swap_url, view):
    """WCAG reflow: 1280 px at 400 %; a cluster network's long class option included."""
    url = cluster_url + "#seed=5&mix_seed=9&mix_styles=0-3" if view == "gan" else swap_url
    with ui.new_page(browser, url, viewport={"width": 320, "height": 640}) as page:
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


def test_a_server_silent_for_30_s_is_reported_and_the_image_still_comes(ui, browser, gan_url):
    page = browser.new_page()
    try:
        page.clock.install()
        page.goto(gan_url + "#seed=1&psi=1&noise=const")
        ui.wait_idle(page)
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
        ui.wait_idle(page)
        assert page.text_content("#failure") == ""
    finally:
        page.close()


