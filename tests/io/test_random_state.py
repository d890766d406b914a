"""Loading a network file leaves the caller's random state as it was: its networks are built with random initial
values (then replaced by the file's tensors) without drawing from torch's global generator."""

import pytest
import torch

from stylegan2.io import load_checkpoint, load_network, save_network
from stylegan2.models import Discriminator, Generator
from stylegan2.tools import convert_network


def assert_random_state_kept(load):
    torch.manual_seed(7)
    before = torch.get_rng_state()
    load()
    assert torch.equal(torch.get_rng_state(), before)


def test_loading_our_own_file_leaves_the_random_state_as_it_was(tmp_path):
    G = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3, mapping_kwargs={"num_layers": 1},
                  synthesis_kwargs={"channel_base": 64, "channel_max": 8})
    D = Discriminator(c_dim=0, img_resolution=8, img_channels=3, channel_base=64, channel_max=8)
    path = save_network(tmp_path / "nets.safetensors", {"G_ema": G, "D": D})
    assert_random_state_kept(lambda: load_network(path))
    assert_random_state_kept(lambda: load_checkpoint(path))


@pytest.mark.filterwarnings("ignore:G(_ema)?. w_avg estimated:UserWarning")  # the rosinality file's note
@pytest.mark.parametrize("name", ["official_path", "rosinality_path"])
def test_loading_and_converting_other_formats_leaves_the_random_state_as_it_was(name, request, tmp_path):
    source = request.getfixturevalue(name)
    assert_random_state_kept(lambda: load_network(source))
    assert_random_state_kept(lambda: convert_network(source, tmp_path / "converted.safetensors"))
