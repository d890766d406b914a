"""Metrics of a generator trained on clusters: it draws its own labels, so the dataset needs none."""

from pathlib import Path

import pytest
import torch

from stylegan2.data import open_dataset
from stylegan2.metrics import compute_metric
from stylegan2.metrics import ppl as ppl_module
from stylegan2.models import Generator

from .test_evaluate import lpips_stand_in, small


@pytest.fixture
def clustered_G() -> Generator:
    torch.manual_seed(1)
    return Generator(z_dim=16, c_dim=3, w_dim=16, img_resolution=16, img_channels=3,
                     mapping_kwargs={"num_layers": 2, "c_prior": [0.5, 0.25, 0.25]},
                     synthesis_kwargs={"channel_base": 256, "channel_max": 16})


def test_fid_of_a_clustered_generator_on_an_unlabeled_dataset(clustered_G, small_detector, tmp_path: Path):
    unlabeled = open_dataset("builtin:shapes?n=12", resolution=16)
    record = compute_metric(small("fid2k_full"), clustered_G, unlabeled, detector=small_detector, batch_size=4,
                            cache_dir=tmp_path, progress=False)
    assert record["results"]["fid2k_full"] > 0


def test_each_ppl_path_stays_in_one_drawn_cluster(clustered_G, monkeypatch):
    seen = []
    original = ppl_module.ppl_images

    def spy(G, c, cfg, gen):
        seen.append(c.clone())
        return original(G, c, cfg, gen)
    monkeypatch.setattr(ppl_module, "ppl_images", spy)
    unlabeled = open_dataset("builtin:shapes?n=12", resolution=16)
    record = compute_metric(small("ppl2_wend", num_gen=8), clustered_G, unlabeled, vgg16=lpips_stand_in(), batch_size=4,
                            progress=False)
    assert record["results"]["ppl2_wend"] > 0
    labels = torch.cat(seen)
    assert labels.shape[1] == 3 and labels.sum(1).eq(1).all()  # one cluster per path, both ends
