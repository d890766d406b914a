"""Metrics of non-square networks: the detectors resize (stretch) every image to their square input, as NVIDIA's do."""

import dataclasses
from pathlib import Path

import pytest
import torch
from torch import nn

from stylegan2.data import convert_dataset, open_dataset
from stylegan2.metrics import NvidiaScriptDetector, calc_metrics, compute_metric, parse_metric
from stylegan2.metrics.inception import preprocess_uint8
from stylegan2.metrics.ppl import PPLConfig, ppl_images
from stylegan2.models import Generator

SAMPLE_COUNT_NOTES = r"ignore:\S+. only \d+ real images:UserWarning"  # tiny test data; see test_sample_counts.py
pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning"),
              pytest.mark.filterwarnings(SAMPLE_COUNT_NOTES)]


def wide_G(aspect: str = "2:1") -> Generator:
    torch.manual_seed(1)
    return Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=8, img_channels=3, mapping_kwargs={"num_layers": 2},
                     synthesis_kwargs={"channel_base": 128, "channel_max": 16, "img_aspect": aspect})


@pytest.fixture
def wide_data(tmp_path: Path) -> Path:
    """builtin:shapes cropped to 16x8 (2:1)."""
    convert_dataset("builtin:shapes?n=12", tmp_path / "wide.zip", width=16, height=8, transform="center-crop")
    return tmp_path / "wide.zip"


def small(name: str, num_gen: int):
    return dataclasses.replace(parse_metric(name), num_gen=num_gen)


def test_inception_input_is_stretched_to_299_square():
    assert preprocess_uint8(torch.zeros(2, 3, 8, 16, dtype=torch.uint8)).shape == (2, 3, 299, 299)


def test_fid_of_a_wide_network_through_the_inception(wide_data, random_inception, tmp_path):
    record = compute_metric(small("fid2k_full", 2), wide_G(), open_dataset(wide_data, max_size=2),
                            detector=random_inception, batch_size=2, cache_dir=tmp_path, progress=False)
    assert record["results"]["fid2k_full"] > 0


@pytest.fixture
def detector_file(tmp_path: Path) -> Path:
    """A custom TorchScript detector (2x2 average pool), which takes images of any shape."""
    path = tmp_path / "pooled.pt"
    torch.jit.script(nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten())).save(str(path))
    return path


def test_calc_metrics_with_a_custom_detector_on_wide_data(wide_data, detector_file, tmp_path):
    records = calc_metrics(wide_G(), str(wide_data), ["fid1k_full"], detector=detector_file, device="cpu",
                           batch_size=100, cache_dir=tmp_path, progress=False)
    assert records[0]["results"]["fid1k_full"] >= 0


def test_data_of_another_aspect_is_refused_in_one_line(wide_data, detector_file, tmp_path):
    with pytest.raises(ValueError, match=r"images are 16x8 but the network makes 8x16; .*--width/--height"):
        calc_metrics(wide_G("1:2"), str(wide_data), ["fid1k_full"], detector=detector_file, device="cpu",
                     cache_dir=tmp_path, progress=False)


class LpipsStyle(nn.Module):
    """Stands in for NVIDIA's vgg16.pt: LPIPS-like embeddings of [0, 255] images of any size."""

    def forward(self, img: torch.Tensor, return_features: bool = False, return_lpips: bool = False,
                resize_images: bool = True) -> torch.Tensor:
        return nn.functional.avg_pool2d(img.to(torch.float32), 4).flatten(1) / 255


@pytest.mark.parametrize("aspect", ["2:1", "1:2"])
def test_ppl_of_a_non_square_network(wide_data, aspect):
    vgg = NvidiaScriptDetector(torch.jit.script(LpipsStyle()), "lpips-stand-in", "1" * 64)
    record = compute_metric(small("ppl2_wend", 4), wide_G(aspect), open_dataset(wide_data), vgg16=vgg, batch_size=2,
                            progress=False)
    assert record["results"]["ppl2_wend"] > 0


def test_ppl_face_crop_takes_the_same_fractions_of_each_side():
    gen = torch.Generator().manual_seed(0)
    img = ppl_images(wide_G(), torch.zeros(2, 0), PPLConfig(crop=True), gen)
    assert img.shape == (4, 3, 4, 8)  # rows 3/8-7/8 of 8, columns 2/8-6/8 of 16

