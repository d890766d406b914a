"""Fixture files and tiny networks for the checkpoint tests; the big rosinality file is read once."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from stylegan2.io import Checkpoint, load_checkpoint
from stylegan2.models import Discriminator, Generator

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures"


def fixture_file(name: str) -> Path:
    """A file from ../shared/fixtures, or skip when this checkout has none."""
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"{path} not found: the reference fixtures live in the team's shared directory")
    return path


@pytest.fixture(scope="session")
def rosinality_path() -> Path:
    return fixture_file("rosinality_small.pt")


@pytest.fixture(scope="session")
def official_path() -> Path:
    return fixture_file("official_small.pkl")


@pytest.fixture(scope="session")
def official_ckpt(official_path) -> Checkpoint:
    return load_checkpoint(official_path)


@pytest.fixture(scope="session")
def official_expected() -> dict[str, torch.Tensor]:
    return torch.load(fixture_file("official_small_expected.pt"), weights_only=True)


@pytest.fixture(scope="session")
def rosinality_ckpt(rosinality_path) -> Checkpoint:
    return load_checkpoint(rosinality_path)


@pytest.fixture(scope="session")
def rosinality_expected() -> dict[str, torch.Tensor]:
    return torch.load(fixture_file("rosinality_small_expected.pt"), weights_only=True)


@pytest.fixture
def tiny_networks() -> dict[str, torch.nn.Module]:
    """A 16 px G, D, G_ema with few channels (8, 8, 4) and non-trivial weights and buffers.

    Like the shared fixtures, the fixed resample filters keep the values the configuration defines.
    """
    torch.manual_seed(1)
    g_kwargs = dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 2},
                    synthesis_kwargs={"channel_base": 64, "channel_max": 8})
    G, G_ema = Generator(**g_kwargs), Generator(**g_kwargs)
    D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=64, channel_max=8)
    for net in (G, G_ema, D):
        with torch.no_grad():
            for key, value in net.state_dict().items():
                if not key.endswith("resample_filter"):
                    value.add_(0.1 * torch.randn_like(value))
    return {"G": G.eval(), "D": D.eval(), "G_ema": G_ema.eval()}
