"""A mapping network trained on clusters (`c_prior`): it draws its class from z when given none."""

import math

import pytest
import torch

from stylegan2.io import load_network, save_checkpoint
from stylegan2.models import Generator
from stylegan2.models.mapping import MappingNetwork

PRIOR = [0.5, 0.3, 0.15, 0.05]


def _mapping(prior=PRIOR) -> MappingNetwork:
    torch.manual_seed(0)
    return MappingNetwork(z_dim=6, c_dim=len(prior), w_dim=8, num_ws=3, num_layers=2, c_prior=prior)


def test_drawn_classes_follow_the_prior_and_z_stays_standard_normal():
    z = torch.randn(400_000, 6, generator=torch.Generator().manual_seed(0))
    z2, c = _mapping().draw_labels(z)
    label = c.argmax(1)
    assert c.sum(1).eq(1).all()
    # Class frequencies within 4 standard errors of the prior.
    for k, p in enumerate(PRIOR):
        assert abs((label == k).double().mean().item() - p) < 4 * math.sqrt(p * (1 - p) / len(z))
    assert torch.equal(z2[:, :-1], z[:, :-1])  # only the last coordinate is re-drawn
    last = z2[:, -1].double()
    assert abs(last.mean().item()) < 0.01 and abs(last.std().item() - 1) < 0.01
    # ... and it is N(0, 1) within every class too: independent of the class, as in training.
    for k in range(len(PRIOR)):
        within = last[label == k]
        assert abs(within.mean().item()) < 0.03 and abs(within.std().item() - 1) < 0.03
        assert abs((within < 1.0).double().mean().item() - 0.8413) < 0.01  # Phi(1)


def test_the_class_is_a_function_of_the_last_coordinate():
    """u = Phi(z[-1]) in the k-th bucket of the cumulative prior gives class k."""
    z = torch.zeros(4, 6)
    z[:, -1] = torch.tensor([-2.0, 0.1, 0.9, 2.0])  # Phi: 0.023, 0.540, 0.816, 0.977
    _, c = _mapping().draw_labels(z)
    assert c.argmax(1).tolist() == [0, 1, 2, 3]


def test_forward_without_c_equals_forward_with_the_drawn_pair():
    mapping = _mapping()
    z = torch.randn(16, 6)
    z2, c = mapping.draw_labels(z)
    torch.testing.assert_close(mapping(z, None), mapping(z2, c), rtol=0, atol=0)
    other = torch.nn.functional.one_hot(torch.full((16,), 3), 4).float()
    assert not torch.allclose(mapping(z, other), mapping(z, None))  # a given c is used as it is


def test_networks_without_a_prior_still_need_their_labels():
    mapping = MappingNetwork(z_dim=6, c_dim=4, w_dim=8, num_ws=3, num_layers=2)
    assert not mapping.draws_labels
    with pytest.raises(ValueError, match=r"c \(class label\) must have shape \[batch, 4\], got None"):
        mapping(torch.randn(2, 6), None)


@pytest.mark.parametrize("prior,message", [
    ([0.5, 0.5, 0.0], "one probability per class"),
    ([0.7, 0.2, 0.2, 0.1], "sum to 1"),
    ([1.2, -0.1, -0.05, -0.05], "non-negative"),
])
def test_bad_priors_are_refused(prior, message):
    with pytest.raises(ValueError, match=message):
        MappingNetwork(z_dim=6, c_dim=4, w_dim=8, num_ws=3, c_prior=prior)


def test_the_prior_travels_with_the_checkpoint(tmp_path):
    torch.manual_seed(0)
    G = Generator(z_dim=8, c_dim=4, w_dim=8, img_resolution=8, img_channels=1,
                  mapping_kwargs={"num_layers": 2, "c_prior": PRIOR},
                  synthesis_kwargs={"channel_base": 64, "channel_max": 8}).eval()
    save_checkpoint(tmp_path / "g.safetensors", {"G_ema": G})
    loaded = load_network(tmp_path / "g.safetensors")["G_ema"]
    assert loaded.mapping.c_prior == PRIOR
    z = torch.randn(5, 8)
    torch.testing.assert_close(loaded(z, None, noise_mode="const"), G(z, None, noise_mode="const"), rtol=0, atol=0)


def test_the_prior_is_uploaded_once_per_device(monkeypatch):
    """Each upload of Python values makes the CPU wait for a GPU: generating batch after batch uploads the prior once."""
    mapping = _mapping()
    uploads = []
    upload = torch.tensor
    monkeypatch.setattr(torch, "tensor", lambda data, *args, **kwargs: uploads.append(data) or upload(data, *args, **kwargs))
    first = [mapping.draw_labels(torch.randn(4, 6))[1] for _ in range(3)]
    assert len(uploads) == 1 and all(c.shape == (4, len(PRIOR)) for c in first)
