"""Tiny networks, data and detectors for the metric tests."""

import pytest
import torch
from torch import nn

from stylegan2.data import open_dataset
from stylegan2.metrics import CustomDetector, InceptionDetector, module_digest
from stylegan2.metrics.inception import FIDInceptionV3
from stylegan2.models import Generator


class PooledProjection(nn.Module):
    """A small fixed feature network: 4x4 average pool then a random projection to 8 features."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(3 * 4 * 4, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(nn.functional.adaptive_avg_pool2d(x, 4).flatten(1))


class ProbabilityDetector(CustomDetector):
    """A custom detector that also gives 5-way class probabilities, to run the Inception Score cheaply."""

    @property
    def gives_class_probabilities(self) -> bool:
        return True

    def class_probabilities(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images)[:, :5].softmax(dim=1)


@pytest.fixture
def tiny_G() -> Generator:
    torch.manual_seed(1)
    return Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
                     mapping_kwargs={"num_layers": 2}, synthesis_kwargs={"channel_base": 256, "channel_max": 16})


@pytest.fixture
def shapes():
    return open_dataset("builtin:shapes?n=12", resolution=16)


@pytest.fixture
def small_detector() -> ProbabilityDetector:
    torch.manual_seed(2)
    net = PooledProjection()
    return ProbabilityDetector(net, "pooled", module_digest(net))


@pytest.fixture(scope="session")
def random_inception() -> InceptionDetector:
    """The FID Inception with random He-initialized convolutions, so features stay O(1) through its 94 layers."""
    torch.manual_seed(3)
    net = FIDInceptionV3().eval()
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight)
    return InceptionDetector(net, "random-inception", module_digest(net))
