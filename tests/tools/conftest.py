"""Tiny generators for the tool tests, and files holding them."""

from pathlib import Path
from typing import Callable

import pytest
import torch

from stylegan2.io import save_checkpoint
from stylegan2.models import Generator


def build_tiny_generator(seed: int = 0, c_dim: int = 0, img_channels: int = 3, noise_strength: float = 0.0) -> Generator:
    """A 16 px generator (num_ws 6) whose images lie in about [-1, 1] and whose w_avg is the mean w, as after training."""
    torch.manual_seed(seed)
    G = Generator(z_dim=16, c_dim=c_dim, w_dim=16, img_resolution=16, img_channels=img_channels,
                  mapping_kwargs={"num_layers": 2}, synthesis_kwargs={"channel_base": 128, "channel_max": 16})
    with torch.no_grad():
        for name, param in G.named_parameters():
            if "torgb.weight" in name:
                param.mul_(0.25)  # a random network's images reach +-5; trained ones stay near [-1, 1]
            if "noise_strength" in name:
                param.fill_(noise_strength)
        c = torch.eye(c_dim)[torch.arange(256) % c_dim] if c_dim else None
        G.mapping.w_avg.copy_(G.mapping(torch.randn(256, 16), c)[:, 0].mean(0))
    return G.eval()


@pytest.fixture
def tiny_generator() -> Callable[..., Generator]:
    """The factory `build_tiny_generator(seed=0, c_dim=0, img_channels=3, noise_strength=0.0)`."""
    return build_tiny_generator


@pytest.fixture(autouse=True)
def _one_thread(one_thread: None) -> None:
    """Every test here runs its tiny networks on one thread."""


@pytest.fixture
def network_file(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Save build_tiny_generator(**kwargs) as our checkpoint (outside tmp_path) and return its path."""
    folder = tmp_path_factory.mktemp("networks")

    def make(**kwargs) -> Path:
        path = folder / f"net-{len(list(folder.iterdir()))}.safetensors"
        save_checkpoint(path, {"G_ema": build_tiny_generator(**kwargs)})
        return path
    return make


@pytest.fixture
def official_pkl(shared_dir: Path) -> Path:
    """NVIDIA's 32 px network pickle from the shared fixtures."""
    path = shared_dir / "fixtures" / "official_small.pkl"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path
