"""`records_init_kwargs`: every network records its constructor arguments once, from its signature."""

import inspect

import pytest
from torch import nn

from stylegan2.models import CooccurrenceDiscriminator, Discriminator, Generator, SwapEncoder, SwapGenerator
from stylegan2.models.init_kwargs import records_init_kwargs

TINY = {
    Generator: dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=1, synthesis_kwargs={"channel_base": 64, "channel_max": 8}),
    Discriminator: dict(c_dim=0, img_resolution=8, img_channels=1, channel_base=64, channel_max=8),
    SwapEncoder: dict(img_resolution=16, img_channels=3, channel_base=64, channel_max=8, num_downsampling_sp=2,
                      spatial_code_ch=2, global_code_ch=4),
    SwapGenerator: dict(img_resolution=16, img_channels=3, spatial_code_ch=2, global_code_ch=4, num_upsampling=2,
                        channel_base=64, channel_max=8),
    CooccurrenceDiscriminator: dict(img_channels=3, patch_size=8, channel_base=64, channel_max=8),
}


@pytest.mark.parametrize("cls", list(TINY), ids=lambda cls: cls.__name__)
def test_every_constructor_argument_is_recorded_and_rebuilds_the_network(cls):
    net = cls(**TINY[cls])
    parameters = list(inspect.signature(cls.__init__).parameters)[1:]
    assert list(net.init_kwargs) == parameters  # all of them, in signature order (the JSON metadata keeps it)
    rebuilt = cls(**net.init_kwargs)
    assert rebuilt.init_kwargs == net.init_kwargs
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in net.state_dict().items()}


class Toy(nn.Module):
    @records_init_kwargs
    def __init__(self, width: int, depth: int = 2, block_kwargs: dict | None = None) -> None:
        super().__init__()
        self.block_kwargs = dict(block_kwargs or {})


def test_defaults_are_filled_in_and_kwargs_dicts_are_never_none():
    assert Toy(4).init_kwargs == {"width": 4, "depth": 2, "block_kwargs": {}}
    assert Toy(4, 3, {"a": 1}).init_kwargs == {"width": 4, "depth": 3, "block_kwargs": {"a": 1}}


def test_the_record_shares_nothing_with_the_caller_or_the_network():
    given = {"inner": {"a": 1}}
    toy = Toy(width=4, block_kwargs=given)
    given["inner"]["a"] = 2
    toy.block_kwargs["inner"]["a"] = 3
    assert toy.init_kwargs["block_kwargs"] == {"inner": {"a": 1}}


def test_variadic_constructors_are_refused():
    with pytest.raises(TypeError, match=r"\*kwargs cannot be recorded"):
        records_init_kwargs(lambda self, **kwargs: None)


def test_unknown_arguments_fail_as_without_the_decorator():
    with pytest.raises(TypeError, match="unexpected keyword argument 'height'"):
        Toy(width=4, height=2)
