"""An explicit per-resolution channel table: the formula min(channel_base // res, channel_max) stays the default."""

from __future__ import annotations

import pytest
import torch

from stylegan2.models import Discriminator, Generator

G_KWARGS = dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 2})


def generator(**synthesis_kwargs) -> Generator:
    torch.manual_seed(0)
    return Generator(**G_KWARGS, synthesis_kwargs=synthesis_kwargs).eval()


def discriminator(**kwargs) -> Discriminator:
    torch.manual_seed(0)
    return Discriminator(c_dim=0, img_resolution=16, img_channels=3, **kwargs).eval()


def test_a_table_equal_to_the_formula_builds_the_same_networks():
    formula = dict(channel_base=64, channel_max=8)
    table = {4: 8, 8: 8, 16: 4}  # min(64 // res, 8)
    for plain, tabled in ((generator(**formula), generator(**formula, channels=table)),
                          (discriminator(**formula), discriminator(**formula, channels=table))):
        a, b = plain.state_dict(), tabled.state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    z, img = torch.randn(2, 8), torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        img_formula = generator(**formula)(z, None, noise_mode="const")
        assert torch.equal(img_formula, generator(**formula, channels=table)(z, None, noise_mode="const"))
        assert torch.equal(discriminator(**formula)(img, None), discriminator(**formula, channels=table)(img, None))


def test_the_table_overrides_the_formula_where_given_and_accepts_json_keys():
    G = generator(channel_base=64, channel_max=8, channels={"8": 16})  # as JSON stores the keys
    assert G.synthesis.b4.conv1.weight.shape == (8, 8, 3, 3)
    assert G.synthesis.b8.conv0.weight.shape == (16, 8, 3, 3)
    assert G.synthesis.b16.conv0.weight.shape == (4, 16, 3, 3)
    D = discriminator(channel_base=64, channel_max=8, channels={8: 16})
    assert D.b16.conv1.weight.shape == (16, 4, 3, 3) and D.b8.conv0.weight.shape == (16, 16, 3, 3)
    with torch.no_grad():
        assert D(G(torch.randn(2, 8), None), None).shape == (2, 1)


@pytest.mark.parametrize("channels, message", [
    ({12: 8}, r"resolution 12 is not one of this network's \[4, 8, 16\]"),
    ({32: 8}, "resolution 32 is not one of"),
    ({8: 0}, "0 channels at 8 px"),
    ({8: 2.5}, "2.5 channels at 8 px"),
])
def test_a_bad_table_is_refused(channels, message):
    with pytest.raises(ValueError, match=message):
        generator(channels=channels)
    with pytest.raises(ValueError, match=message):
        discriminator(channels=channels)


def test_a_channel_base_below_the_resolution_is_refused():
    """min(channel_base // res, channel_max) would give 0 channels (a ZeroDivisionError deep in a layer)."""
    for build in (Generator, Discriminator):
        kwargs = dict(c_dim=0, img_resolution=32, img_channels=3)
        kwargs |= dict(z_dim=8, w_dim=8, synthesis_kwargs={"channel_base": 16}) if build is Generator else dict(channel_base=16)
        with pytest.raises(ValueError, match=r"^channel_base 16 gives no channels at 32 px .*; use at least 32$"):
            build(**kwargs)
