"""The FID Inception-v3: architecture, pytorch-fid weight layout, official input pipeline."""

from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

from stylegan2.metrics import InceptionDetector, load_detector, module_digest
from stylegan2.metrics.inception import FIDInceptionV3, preprocess_uint8, resize_like_tf


@pytest.fixture
def net(random_inception) -> FIDInceptionV3:
    return random_inception.net


def uint8_images(n: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def tf_legacy_resize(image: np.ndarray, size: int) -> np.ndarray:
    """TF1 resize_bilinear(align_corners=False) of [C, H, W]: output j reads input j * in / out, edges clamped."""

    def taps(in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = np.arange(size) * (in_size / size)
        lo = np.floor(src).astype(int)
        return lo, np.minimum(lo + 1, in_size - 1), src - lo

    y0, y1, fy = taps(image.shape[1])
    x0, x1, fx = taps(image.shape[2])
    rows = image[:, y0, :] * (1 - fy)[None, :, None] + image[:, y1, :] * fy[None, :, None]
    return rows[:, :, x0] * (1 - fx) + rows[:, :, x1] * fx


def test_state_dict_has_pytorch_fid_layout(net):
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert sum(k.endswith(".conv.weight") for k in shapes) == 94
    assert shapes["Conv2d_1a_3x3.conv.weight"] == (32, 3, 3, 3)
    assert shapes["Mixed_5b.branch_pool.conv.weight"] == (32, 192, 1, 1)
    assert shapes["Mixed_6b.branch7x7_2.conv.weight"] == (128, 128, 1, 7)
    assert shapes["Mixed_7c.branch3x3dbl_3b.bn.running_var"] == (384,)
    assert shapes["fc.weight"] == (1008, 2048) and shapes["fc.bias"] == (1008,)
    assert not any("AuxLogits" in k for k in shapes)


def test_features_and_probabilities_of_two_images(net):
    detector = InceptionDetector(net, "random", module_digest(net))
    images = uint8_images(2)
    with torch.no_grad():
        features = detector.features(images)
        probs = detector.class_probabilities(images)
    assert features.shape == (2, 2048) and torch.isfinite(features).all()
    assert probs.shape == (2, 1008)
    assert torch.allclose(probs.sum(dim=1), torch.ones(2, dtype=probs.dtype), atol=1e-5)
    assert (features[0] - features[1]).abs().mean() > 1e-3 * features.abs().mean()


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_weights_file_saved_from_the_network_loads_back(net, tmp_path: Path, suffix: str):
    path = tmp_path / f"inception{suffix}"
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}  # as ported files
    if suffix == ".pth":
        torch.save(state, path)
    else:
        safetensors.torch.save_file(state, str(path))
    detector = load_detector(path)
    assert isinstance(detector, InceptionDetector)
    image = uint8_images(1, seed=1)
    with torch.no_grad():
        assert torch.equal(detector.features(image), net.features(preprocess_uint8(image)))


def test_wrong_state_dict_names_the_file(tmp_path: Path):
    path = tmp_path / "other.pth"
    torch.save({"layer.weight": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match="other.pth: not an FID Inception state dict"):
        load_detector(path)


def test_resize_follows_tensorflow_legacy_bilinear():
    image = torch.rand(1, 3, 16, 24) * 255
    expected = tf_legacy_resize(image[0].double().numpy(), 299)
    assert np.allclose(resize_like_tf(image)[0].double().numpy(), expected, atol=1e-3)


def test_preprocessing_maps_uint8_to_the_official_range():
    images = torch.tensor([0, 128, 255], dtype=torch.uint8).view(1, 3, 1, 1).expand(1, 3, 299, 299)
    x = preprocess_uint8(images)
    assert x.shape == (1, 3, 299, 299)
    assert x[0, :, 0, 0].tolist() == [-1.0, 0.0, 127 / 128]
