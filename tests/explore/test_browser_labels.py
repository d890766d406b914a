"""Conditional networks in a real browser: the class picker, a second seed's class, clusters drawn from the seed,
and a network trained on label vectors, which takes a typed label in place of a class."""

import re

import numpy as np
import pytest


def test_a_class_the_network_lacks_names_the_valid_range(ui, browser, cond_gan_file):
    with ui.explorer_url(cond_gan_file, "--top-k", "1") as url:
        with ui.new_page(browser, url + "#seed=9&class=500") as page:
            assert page.text_content("#address-error") == ("address: class=500: not a class of this network; use 0..3; "
                                                           "showing 0")
        with ui.new_page(browser, url + "#seed=9&class=1&mix_seed=4&mix_styles=0-1&mix_class=7") as page:
            assert page.text_content("#address-error") == (
                "address: mix_class=7: not a class of this network; use 0..3, or leave mix_class out for the first "
                "seed's class; showing the default")


def test_the_second_seed_takes_the_class_picked_for_it(ui, browser, cond_gan_file):
    with ui.explorer_url(cond_gan_file, "--top-k", "1") as url:
        with ui.new_page(browser, url + "#seed=9&class=1&mix_seed=4&mix_styles=0-1") as page:
            assert page.is_visible("#mix-class") and page.input_value("#mix-class") == ""
            page.select_option("#mix-class", "3")
            page.wait_for_selector("#image[data-query*='mix_class=3']")
            ui.wait_idle(page)
            assert page.evaluate("location.hash").endswith("mix_class=3")
            assert page.text_content("#layers tbody tr:nth-child(1) td:nth-child(3)") == "seed 4, class 3"
            assert page.text_content("#layers tbody tr:nth-child(3) td:nth-child(3)") == "seed 9, class 1"
            page.uncheck("#mix-on")
            ui.wait_idle(page)
            assert "mix_class" not in page.evaluate("location.hash") and page.is_disabled("#mix-class")


def test_on_a_cluster_network_the_second_seeds_default_class_says_what_it_is(ui, browser, cluster_gan_file, cluster_url):
    """With no cluster picked the second seed draws its own: the default option and the layer table say so."""
    from stylegan2.explore import open_explorer

    explorer = open_explorer(cluster_gan_file, "cpu", top_k=0)
    with ui.new_page(browser, cluster_url + "#seed=3&mix_seed=9&mix_styles=0-1") as page:
        assert page.input_value("#class") == "" and page.input_value("#mix-class") == ""
        assert page.text_content("#mix-class option:checked") == "drawn from its own seed (as the first seed's is)"
        assert page.text_content("#layers tbody tr:nth-child(1) td:nth-child(3)") == (
            f"seed 9, cluster {explorer.drawn_class(9)} (drawn from the seed)")
        assert page.text_content("#layers tbody tr:nth-child(3) td:nth-child(3)") == (
            f"seed 3, cluster {explorer.drawn_class(3)} (drawn from the seed)")
        page.select_option("#class", "2")
        page.wait_for_selector("#image[data-query*='class=2']")
        ui.wait_idle(page)
        assert page.text_content("#mix-class option:checked") == "the first seed's (2)"
        assert page.text_content("#layers tbody tr:nth-child(1) td:nth-child(3)") == "seed 9, class 2"


def test_a_label_vector_network_takes_a_typed_label_and_its_command_renders_it(ui, browser, vector_url, tmp_path,
                                                                               monkeypatch):
    """No class picker: the network never saw one-hot classes. The label typed is the image's, and generate's."""
    with ui.new_page(browser, vector_url) as page:
        assert page.is_hidden("#class-label") and page.is_hidden("#mix-class-label")
        assert page.input_value("#label") == "0,0,0" and "label vectors of 3 numbers" in page.text_content("#network")
        page.fill("#label", "0.5, -1, 2.25")
        page.wait_for_selector("#image[data-query*='label=0.5']")
        ui.press(page, "#d1", "ArrowRight", 5)  # direction 1: 0 -> 0.5
        assert page.get_attribute("#image", "data-query") == "seed=0&psi=1&label=0.5%2C+-1%2C+2.25&noise=const&d1=0.5"
        assert page.get_attribute("#image", "alt") == "seed 0, label 0.5, -1, 2.25, psi 1, direction 1 +0.5"
        page.wait_for_selector("#command:has-text('--strength 0.5')")
        commands = page.text_content("#command")
        assert re.search(r"--strips 0 --outdir \S+ --label 0\.5,-1,2\.25\n.*--seeds 0 --direction \S+ --index 1 "
                         r"--strength 0\.5 --label 0\.5,-1,2\.25$", commands), commands
        assert page.text_content("#layers tbody tr td:nth-child(3)") == "seed 0, label 0.5,-1,2.25"
        monkeypatch.chdir(tmp_path)
        np.testing.assert_array_equal(ui.generate_output(commands, tmp_path), ui.shown_image(page))


def test_the_second_seed_takes_the_first_seeds_label_or_its_own(ui, browser, vector_url):
    with ui.new_page(browser, vector_url + "#seed=9&label=1,0,0&mix_seed=4&mix_styles=0-1") as page:
        assert page.is_visible("#mix-label") and page.input_value("#mix-label") == ""
        assert page.get_attribute("#mix-label", "placeholder") == "the first seed's (1,0,0)"
        assert page.text_content("#layers tbody tr:nth-child(1) td:nth-child(3)") == "seed 4, label 1,0,0"
        page.fill("#mix-label", "0,2,0")
        page.wait_for_selector("#image[data-query*='mix_label=0%2C2%2C0']")
        ui.wait_idle(page)
        assert page.text_content("#layers tbody tr:nth-child(1) td:nth-child(3)") == "seed 4, label 0,2,0"
        assert page.text_content("#layers tbody tr:nth-child(3) td:nth-child(3)") == "seed 9, label 1,0,0"
        page.uncheck("#mix-on")
        ui.wait_idle(page)
        assert "mix_label" not in page.evaluate("location.hash") and page.is_disabled("#mix-label")


@pytest.mark.parametrize("typed, message", [
    ("1,2", "label: gives 2 values, but this network's labels have 3 (c_dim); give 3 numbers separated by commas"),
    ("1,x,2", "label: cannot read '1,x,2'; give the label vector's numbers separated by commas, e.g. label 0.5,0,1"),
    ("1,nan,2", "label: '1,nan,2': holds NaN or infinite values; give finite numbers"),
    ("", "label: missing; this network was trained on label vectors, give 3 numbers separated by commas"),
])
def test_a_bad_label_is_named_on_the_page_and_keeps_the_last_image(ui, browser, vector_url, typed, message):
    with ui.new_page(browser, vector_url + "#seed=3&label=0,1,0") as page:
        before = ui.shown_image(page)
        page.fill("#label", typed)
        ui.wait_idle(page)
        assert ui.wait_error(page) == message
        assert page.get_attribute("#label", "aria-invalid") == "true"
        assert page.get_attribute("#label", "aria-describedby").split() == ["label-hint", "error"]
        np.testing.assert_array_equal(ui.shown_image(page), before)
        assert page.get_attribute("#image", "data-query") == "seed=3&psi=1&label=0%2C1%2C0&noise=const"
        page.fill("#label", "0,1,0.5")
        page.wait_for_selector("#error:empty", state="attached")
        assert page.get_attribute("#label", "aria-invalid") is None


def test_the_label_fields_are_named_and_described(ui, browser, vector_url):
    with ui.new_page(browser, vector_url) as page:
        assert page.get_by_role("textbox", name="Label", exact=True).get_attribute("id") == "label"
        assert page.get_by_role("textbox", name="Second seed's label", exact=True).get_attribute("id") == "mix-label"
        assert page.is_visible("#label-hint") and page.text_content("#label-hint") == (
            "This network was trained on label vectors: give 3 numbers separated by commas, as generate --label takes them.")


