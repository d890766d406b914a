"""A metric leaves the caller's random state alone, whether or not its real-image statistics were cached."""

import dataclasses

import pytest
import torch

from stylegan2.metrics import compute_metric, parse_metric

pytestmark = [pytest.mark.filterwarnings(r"ignore:\S+. only \d+ real images:UserWarning"),  # tiny test data
              pytest.mark.filterwarnings(r"ignore:\S+. computed with pooled:UserWarning")]


def test_a_metric_with_an_empty_cache_leaves_torchs_random_state_as_it_was(tiny_G, shapes, small_detector, tmp_path):
    """The real images' pass (and the dataset's hash) read them through DataLoaders, which seed their workers."""
    spec = dataclasses.replace(parse_metric("fid2k_full"), num_gen=4)
    torch.manual_seed(5)
    before = torch.get_rng_state()
    compute_metric(spec, tiny_G, shapes, detector=small_detector, batch_size=4, cache_dir=tmp_path / "empty",
                   progress=False)
    assert torch.equal(torch.get_rng_state(), before)
