"""Request parameters are checked one by one, each error naming the parameter and what it accepts."""

import pytest

from stylegan2.explore.settings import SettingsError, default_mix_styles, parse_gan_settings, parse_swap_settings


def parse(**query):
    return parse_gan_settings(query, num_ws=6, c_dim=0, num_directions=2)


def test_a_full_query_is_read_into_settings():
    settings = parse(seed="42", psi="0.7", cutoff="3", noise="none", mix_seed="5", mix_styles="coarse", d1="-2.5")
    assert (settings.seed, settings.truncation_psi, settings.truncation_cutoff, settings.noise_mode) == (42, 0.7, 3, "none")
    assert (settings.mix_seed, settings.mix_styles, settings.strengths) == (5, "coarse", (0.0, -2.5))


def test_a_second_seed_without_layers_mixes_the_default_styles_as_the_page_does():
    for query in ({"mix_seed": "5"}, {"mix_seed": "5", "mix_styles": " "}):
        settings = parse(seed="1", **query)
        assert (settings.mix_seed, settings.mix_styles) == (5, default_mix_styles(6)) == (5, "0-5")
    assert default_mix_styles(18) == "0-6" and default_mix_styles(1) == "0"  # `stylegan2 mix`'s 0-6, clipped


def test_every_parameter_is_stripped_of_spaces_alike():
    settings = parse(seed=" 7 ", psi=" 0.5", noise=" none ", mix_seed="2 ", mix_styles=" 0-1 ")
    assert (settings.seed, settings.truncation_psi, settings.noise_mode, settings.mix_styles) == (7, 0.5, "none", "0-1")


@pytest.mark.parametrize("text", ["+5", "1_000", "\u0663", "5.0", "0x10", "1e3"])
def test_whole_numbers_are_plain_ascii_digits(text):
    with pytest.raises(SettingsError, match="seed: .* is not a whole number; use digits 0-9"):
        parse(seed=text)


@pytest.mark.parametrize("text", ["1_0", "\u0663", "nan", "inf", "0x1p3", "1,5"])
def test_numbers_are_plain_decimals(text):
    with pytest.raises(SettingsError, match="psi: .* is not a number"):
        parse(seed="1", psi=text)


def test_an_overlong_value_is_out_of_range_and_quoted_short():
    for name in ("seed", "psi"):
        with pytest.raises(SettingsError) as refused:
            parse(**{"seed": "1", name: "9" * 60000})
        message = str(refused.value)
        assert message.startswith(f"{name}: 9999") and "is out of range" in message and len(message) < 120
    with pytest.raises(SettingsError, match=r"^unknown parameter 'xxxxx.*\.\.\.'") as refused:
        parse(seed="1", **{"x" * 5000: "1"})
    assert len(str(refused.value)) < 200


@pytest.mark.parametrize("query, message", [
    ({}, "seed: missing; give a seed in 0..4294967295"),
    ({"seed": ""}, "seed: missing"),
    ({"seed": "abc"}, "seed: 'abc' is not a whole number"),
    ({"seed": "-1"}, "seed: -1 is out of range; use 0..4294967295"),
    ({"seed": "4294967296"}, "seed: 4294967296 is out of range; use 0..4294967295"),
    ({"seed": "1", "psi": "x"}, "psi: 'x' is not a number"),
    ({"seed": "1", "psi": "100.5"}, "psi: 100.5 is out of range; use a number from -100 to 100"),
    ({"seed": "1", "psi": "1e400"}, "psi: 1e400 is out of range"),
    ({"seed": "1", "cutoff": "7"}, "cutoff: 7 is out of range; use 0..6"),
    ({"seed": "1", "class": "0"}, "class: this network is unconditional"),
    ({"seed": "1", "class": "1"}, "class: this network is unconditional"),  # not first 'use 0..0', then refused
    ({"seed": "1", "noise": "loud"}, "noise: 'loud' is not a noise mode; use one of const, random, none"),
    ({"seed": "1", "d0": "1e9"}, "d0: 1e9 is out of range"),
    ({"seed": "1", "d2": "1"}, "unknown parameter 'd2'"),
    ({"seed": "1", "path": "/etc/passwd"}, "unknown parameter 'path'"),
])
def test_bad_parameters_are_refused_by_name(query, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse(**query)


def test_swap_settings_check_image_ids_and_alpha():
    assert parse_swap_settings({"structure": "1", "texture": "0", "alpha": "0.25"}, [0, 1]).alpha == 0.25
    with pytest.raises(SettingsError, match=r"^texture: no image 2 here; the explorer holds images 0-1$"):
        parse_swap_settings({"structure": "0", "texture": "2"}, [0, 1])
    with pytest.raises(SettingsError, match="alpha: 1.5 is out of range; use a number from 0 to 1"):
        parse_swap_settings({"structure": "0", "texture": "0", "alpha": "1.5"}, [0])
    with pytest.raises(SettingsError, match="no images yet: upload a structure and a texture image"):
        parse_swap_settings({"structure": "0", "texture": "0"}, [])
    with pytest.raises(SettingsError, match=r"^structure: missing; give an image id the explorer holds: 0-1$"):
        parse_swap_settings({"texture": "0"}, [0, 1])


@pytest.mark.parametrize("value, message", [
    ("2", r"no image 2 here \(a newer upload replaced it: the explorer keeps at most 64 images\); the explorer holds images 0-1,5"),
    ("9", r"no image 9 here; the explorer holds images 0-1,5"),  # never given out
    ("-1", r"no image -1 here; the explorer holds images 0-1,5"),
    ("1" * 50, r"no image 1{37}\.\.\. here; the explorer holds images 0-1,5"),
    ("x", r"'x' is not a whole number; give an image id the explorer holds: 0-1,5"),
])
def test_swap_ids_not_held_are_refused_naming_those_held(value, message):
    """Ids have gaps once uploads replace images; an id below `issued` that is not held was replaced."""
    with pytest.raises(SettingsError, match=rf"^structure: {message}$"):
        parse_swap_settings({"structure": value, "texture": "5"}, [0, 1, 5], issued=6)
