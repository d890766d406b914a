"""Loading detector files: custom TorchScript, NVIDIA-style TorchScript, the cache dir and its errors."""

import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from stylegan2.metrics import CustomDetector, NvidiaScriptDetector, default_cache_dir, load_detector, load_vgg16

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning")


class MeanColour(nn.Module):
    """A custom feature network: float images in [0, 1] -> per-channel means [N, 3]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


class NvidiaStyle(nn.Module):
    """Stands in for NVIDIA's metric TorchScript: uint8 images and a `return_features` switch."""

    def forward(self, img: torch.Tensor, return_features: bool = False, no_output_bias: bool = False) -> torch.Tensor:
        features = img.to(torch.float32).mean(dim=(2, 3))
        return features if return_features else features.softmax(dim=1)


class LpipsStyle(nn.Module):
    """Stands in for NVIDIA's vgg16.pt: features or LPIPS embeddings of [0, 255] images."""

    def forward(self, img: torch.Tensor, return_features: bool = False, return_lpips: bool = False,
                resize_images: bool = True) -> torch.Tensor:
        return img.to(torch.float32).flatten(1) / 255


def save_script(module: nn.Module, path: Path) -> Path:
    torch.jit.script(module).save(str(path))
    return path


def test_custom_torchscript_gets_images_in_unit_range(tmp_path: Path):
    detector = load_detector(save_script(MeanColour(), tmp_path / "colour.pt"))
    assert isinstance(detector, CustomDetector)
    images = torch.full((2, 3, 8, 8), 255, dtype=torch.uint8)
    assert torch.allclose(detector.features(images), torch.ones(2, 3))


def test_torchscript_with_return_features_is_called_nvidia_style(tmp_path: Path):
    detector = load_detector(save_script(NvidiaStyle(), tmp_path / "inception-2015-12-05.pt"))
    assert isinstance(detector, NvidiaScriptDetector)
    images = torch.full((1, 3, 4, 4), 51, dtype=torch.uint8)
    assert torch.allclose(detector.features(images), torch.full((1, 3), 51.0))
    assert torch.allclose(detector.class_probabilities(images).sum(), torch.tensor(1.0))


def test_custom_detector_has_no_class_probabilities(tmp_path: Path):
    detector = load_detector(save_script(MeanColour(), tmp_path / "colour.pt"))
    with pytest.raises(ValueError, match="Inception Score needs the FID Inception"):
        detector.class_probabilities(torch.zeros((1, 3, 4, 4), dtype=torch.uint8))


def test_missing_default_detector_says_where_to_get_it(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=r"pt_inception-2015-12-05-6726825d\.pth.*--detector"):
        load_detector(None, cache_dir=tmp_path)


def test_default_detector_is_found_in_the_cache_dir(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    save_script(NvidiaStyle(), tmp_path / "inception-2015-12-05.pt")
    assert load_detector(None).name == "inception-2015-12-05"


def test_missing_detector_file_is_named(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="nope.pth: no such file"):
        load_detector(tmp_path / "nope.pth")


def test_a_directory_is_called_one(tmp_path: Path):
    with pytest.raises(IsADirectoryError, match=r"^.*: is a directory; give the path of the file itself$"):
        load_detector(tmp_path)


def test_file_of_another_kind_is_refused(tmp_path: Path):
    """The reason given was torch's KeyError text, '(101)'."""
    path = tmp_path / "notes.pt"
    path.write_bytes(b"hello, not a weights file")
    with pytest.raises(ValueError, match=r"notes.pt: cannot read as a weights file or TorchScript module "
                                         r"\(not written by torch.save, safetensors or torch.jit.save\)$"):
        load_detector(path)
    torch.save([1, 2], path)  # torch's own file: its reason is kept
    with pytest.raises(ValueError, match=r"notes.pt: expected a state dict of the FID Inception, got list"):
        load_detector(path)


def test_vgg16_must_offer_lpips(tmp_path: Path):
    assert isinstance(load_vgg16(save_script(LpipsStyle(), tmp_path / "vgg16.pt")), NvidiaScriptDetector)
    with pytest.raises(ValueError, match="not NVIDIA's VGG16"):
        load_vgg16(save_script(NvidiaStyle(), tmp_path / "other.pt"))


def test_missing_vgg16_says_which_file_is_needed(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=r"vgg16\.pt.*--vgg"):
        load_vgg16(None, cache_dir=tmp_path)


def test_missing_metric_files_names_what_the_metrics_need_and_is_none_once_it_is_there(tmp_path):
    """What a training run says in its first lines (offline here: nothing is downloaded)."""
    from stylegan2.metrics.calc import missing_metric_files
    from stylegan2.metrics.detectors import INCEPTION_FILE_NAMES, VGG16_FILE_NAMES

    cache = tmp_path / "cache"
    for metrics, wanted in ((["fid50k_full"], INCEPTION_FILE_NAMES[0]), (["pr50k3_full"], INCEPTION_FILE_NAMES[0]),
                            (["ppl2_wend"], VGG16_FILE_NAMES[1]), (["kid50k_full", "ppl_zfull"], INCEPTION_FILE_NAMES[0])):
        missing = missing_metric_files(metrics, cache)
        assert missing is not None and missing.startswith(f"{wanted} is not in {cache}"), (metrics, missing)
    cache.mkdir()
    (cache / INCEPTION_FILE_NAMES[0]).write_bytes(b"")  # found by name; loading is the snapshot's work
    assert missing_metric_files(["fid50k_full", "is50k"], cache) is None
    assert missing_metric_files(["fid50k_full", "ppl2_wend"], cache).startswith(f"{VGG16_FILE_NAMES[1]} is not in {cache}")
    (cache / VGG16_FILE_NAMES[0]).write_bytes(b"")
    assert missing_metric_files(["fid50k_full", "ppl2_wend"], cache) is None


def test_missing_metric_files_checks_the_files_given_instead_of_the_cache(tmp_path):
    """A run given --detector FILE was checked against the cache all the same (training worked around it)."""
    from stylegan2.metrics.calc import missing_metric_files

    cache, detector, vgg = tmp_path / "empty-cache", tmp_path / "mine.pt", tmp_path / "vgg16.pt"
    detector.write_bytes(b"")
    vgg.write_bytes(b"")
    assert missing_metric_files(["fid50k_full", "kid50k_full"], cache, detector=detector) is None
    assert missing_metric_files(["pr50k3_full", "ppl2_wend"], cache, vgg=vgg) is None  # precision/recall on the VGG16
    assert missing_metric_files(["pr50k3_full"], cache, detector=detector) is None  # or on the detector, without it
    assert missing_metric_files(["ppl2_wend"], cache, detector=detector).startswith("vgg16.pt is not in ")
    assert missing_metric_files(["fid50k_full"], cache, detector=tmp_path / "gone.pt") == f"{tmp_path / 'gone.pt'}: no such file"
    assert missing_metric_files(["ppl2_wend"], cache, vgg=tmp_path) == f"{tmp_path}: is a directory; give the path of the file itself"


def test_a_torchscript_detector_loads_without_torchs_deprecation_warning(tmp_path: Path):
    """`stylegan2 metrics --detector feat.pt` printed torch's jit.load deprecation as a note of ours."""
    path = tmp_path / "feat.pt"
    torch.jit.script(nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten())).save(str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert isinstance(load_detector(path, cache_dir=tmp_path), CustomDetector)
