"""Tiny networks saved as files for the explorer tests: a 16 px GAN (optionally conditional) and a 16 px SwapAE."""

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan2.io import save_checkpoint
from stylegan2.models import Generator, SwapEncoder, SwapGenerator


def build_generator(c_dim: int = 0, noise_strength: float = 0.0, resolution: int = 16,
                    c_prior: list[float] | None = None) -> Generator:
    """A generator whose images lie in about [-1, 1] (toRGB scaled down) with w_avg the mean w, as after training;
    `c_prior` (one share per class): trained on clusters, so it draws a cluster from z when none is given."""
    torch.manual_seed(1)
    G = Generator(z_dim=16, c_dim=c_dim, w_dim=16, img_resolution=resolution, img_channels=3,
                  mapping_kwargs={"num_layers": 2, "c_prior": c_prior},
                  synthesis_kwargs={"channel_base": 8 * resolution, "channel_max": 16})
    with torch.no_grad():
        for name, param in G.named_parameters():
            if "torgb.weight" in name:
                param.mul_(0.25)
            if "noise_strength" in name:
                param.fill_(noise_strength)
        c = torch.eye(c_dim)[torch.arange(256) % c_dim] if c_dim else None
        G.mapping.w_avg.copy_(G.mapping(torch.randn(256, 16), c)[:, 0].mean(0))
    return G.eval()


def build_swapae() -> tuple[SwapEncoder, SwapGenerator]:
    torch.manual_seed(2)
    codes = dict(spatial_code_ch=4, global_code_ch=16)
    E = SwapEncoder(img_resolution=16, img_channels=3, channel_base=256, channel_max=16, num_downsampling_sp=2,
                    num_downsampling_gl=1, **codes)
    G = SwapGenerator(img_resolution=16, img_channels=3, num_upsampling=2, channel_base=256, channel_max=16,
                      use_noise=False, **codes)
    return E.eval(), G.eval()


@pytest.fixture(autouse=True)
def _one_thread(one_thread: None) -> None:
    """Every test here runs its tiny networks on one thread."""


@pytest.fixture(scope="session")
def gan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An unconditional 16 px generator with noise, saved as our checkpoint."""
    path = tmp_path_factory.mktemp("explore-nets") / "gan.safetensors"
    save_checkpoint(path, {"G_ema": build_generator(noise_strength=0.3)})
    return path


@pytest.fixture(scope="session")
def cond_gan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A conditional (4 classes) 16 px generator."""
    path = tmp_path_factory.mktemp("explore-nets") / "cond.safetensors"
    save_checkpoint(path, {"G_ema": build_generator(c_dim=4)})
    return path


@pytest.fixture(scope="session")
def cluster_gan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 16 px generator trained on 4 clusters (draws_labels): a cluster is optional, drawn from the seed without one."""
    path = tmp_path_factory.mktemp("explore-nets") / "clusters.safetensors"
    save_checkpoint(path, {"G_ema": build_generator(c_dim=4, c_prior=[0.25] * 4)})
    return path


@pytest.fixture(scope="session")
def swapae_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialized 16 px Swapping Autoencoder (E and G)."""
    E, G = build_swapae()
    path = tmp_path_factory.mktemp("explore-nets") / "swapae.safetensors"
    save_checkpoint(path, {"E": E, "G": G})
    return path


@pytest.fixture
def png_file() -> Callable[..., bytes]:
    """`make(width, height, mode, seed)`: the bytes of a random-noise PNG."""
    def make(width: int = 16, height: int = 16, mode: str = "RGB", seed: int = 0) -> bytes:
        import io
        rng = np.random.default_rng(seed)
        channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
        pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode).save(buffer, format="PNG")
        return buffer.getvalue()
    return make
