"""NVIDIA's metric TorchScript files convert into safetensors that load into our modules with the same outputs.

The stand-ins below have the layout of NVIDIA's files (layer names, batch norms without scale, the
resize of their Inception) and random weights; converting them must reproduce their outputs, and once
converted the TorchScript is not loaded again.
"""

from collections import OrderedDict
from pathlib import Path
from typing import List

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from torch import nn

from stylegan2.cli import main
from stylegan2.metrics import InceptionDetector, load_detector, load_vgg16
from stylegan2.metrics.convert import convert_torchscript, names_nvidia_layers, read_converted
from stylegan2.metrics.inception import FIDInceptionV3
from stylegan2.metrics.vgg16 import VGG16LPIPS

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning")


@pytest.fixture(autouse=True)
def _one_thread(one_thread: None) -> None:
    """A full-size Inception runs far faster on one thread than on two busy ones."""


class TFConv(nn.Module):
    """A convolution of NVIDIA's Inception: no bias, then a batch norm without scale (eps 1e-3), then ReLU."""

    def __init__(self, cin: int, cout: int, kernel, stride: int = 1, padding=0) -> None:
        super().__init__()
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        self.weight = nn.Parameter(torch.randn(cout, cin, kh, kw) * (2 / (cin * kh * kw)) ** 0.5)
        self.beta = nn.Parameter(torch.randn(cout) * 0.1)
        self.mean = nn.Parameter(torch.randn(cout) * 0.1)
        self.var = nn.Parameter(torch.rand(cout) + 0.5)
        self.stride: List[int] = [stride, stride]
        self.padding: List[int] = [padding, padding] if isinstance(padding, int) else list(padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight, None, self.stride, self.padding)
        return F.relu(F.batch_norm(x, self.mean, self.var, None, self.beta, False, 0.0, 0.001))


def tower(*convs: TFConv, pool: nn.Module | None = None) -> nn.Sequential:
    """NVIDIA's towers: convolutions named conv, conv_1, ... (after a pool named pool)."""
    layers = [("pool", pool)] if pool is not None else []
    layers += [("conv" + (f"_{i}" if i else ""), conv) for i, conv in enumerate(convs)]
    return nn.Sequential(OrderedDict(layers))


def tf_avg_pool() -> nn.Module:
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)


class MixedA(nn.Module):
    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.conv = TFConv(cin, 64, 1)
        self.tower = tower(TFConv(cin, 48, 1), TFConv(48, 64, 5, padding=2))
        self.tower_1 = tower(TFConv(cin, 64, 1), TFConv(64, 96, 3, padding=1), TFConv(96, 96, 3, padding=1))
        self.tower_2 = tower(TFConv(cin, pool_features, 1), pool=tf_avg_pool())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.tower(x), self.tower_1(x), self.tower_2(x)], 1)


class MixedB(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.conv = TFConv(cin, 384, 3, stride=2)
        self.tower = tower(TFConv(cin, 64, 1), TFConv(64, 96, 3, padding=1), TFConv(96, 96, 3, stride=2))
        self.pool = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.tower(x), self.pool(x)], 1)


class MixedC(nn.Module):
    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.conv = TFConv(cin, 192, 1)
        self.tower = tower(TFConv(cin, c7, 1), TFConv(c7, c7, (1, 7), padding=(0, 3)), TFConv(c7, 192, (7, 1), padding=(3, 0)))
        self.tower_1 = tower(TFConv(cin, c7, 1), TFConv(c7, c7, (7, 1), padding=(3, 0)), TFConv(c7, c7, (1, 7), padding=(0, 3)),
                             TFConv(c7, c7, (7, 1), padding=(3, 0)), TFConv(c7, 192, (1, 7), padding=(0, 3)))
        self.tower_2 = tower(TFConv(cin, 192, 1), pool=tf_avg_pool())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.tower(x), self.tower_1(x), self.tower_2(x)], 1)


class MixedD(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.tower = tower(TFConv(cin, 192, 1), TFConv(192, 320, 3, stride=2))
        self.tower_1 = tower(TFConv(cin, 192, 1), TFConv(192, 192, (1, 7), padding=(0, 3)),
                             TFConv(192, 192, (7, 1), padding=(3, 0)), TFConv(192, 192, 3, stride=2))
        self.pool = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.tower(x), self.tower_1(x), self.pool(x)], 1)


class MixedE(nn.Module):
    def __init__(self, cin: int, max_pool: bool) -> None:
        super().__init__()
        self.conv = TFConv(cin, 320, 1)
        self.tower_conv = TFConv(cin, 384, 1)
        self.tower_mixed_conv = TFConv(384, 384, (1, 3), padding=(0, 1))
        self.tower_mixed_conv_1 = TFConv(384, 384, (3, 1), padding=(1, 0))
        self.tower_1_conv = TFConv(cin, 448, 1)
        self.tower_1_conv_1 = TFConv(448, 384, 3, padding=1)
        self.tower_1_mixed_conv = TFConv(384, 384, (1, 3), padding=(0, 1))
        self.tower_1_mixed_conv_1 = TFConv(384, 384, (3, 1), padding=(1, 0))
        self.tower_2_pool = nn.MaxPool2d(3, stride=1, padding=1) if max_pool else tf_avg_pool()
        self.tower_2_conv = TFConv(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.tower_conv(x)
        b = self.tower_1_conv_1(self.tower_1_conv(x))
        return torch.cat([self.conv(x), self.tower_mixed_conv(a), self.tower_mixed_conv_1(a), self.tower_1_mixed_conv(b),
                          self.tower_1_mixed_conv_1(b), self.tower_2_conv(self.tower_2_pool(x))], 1)


class NvidiaInception(nn.Module):
    """inception-2015-12-05.pt's layout and call: uint8 in, resized to 299 by an affine grid, (x - 128) / 128."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(OrderedDict([
            ("conv", TFConv(3, 32, 3, stride=2)), ("conv_1", TFConv(32, 32, 3)), ("conv_2", TFConv(32, 64, 3, padding=1)),
            ("pool0", nn.MaxPool2d(3, stride=2)), ("conv_3", TFConv(64, 80, 1)), ("conv_4", TFConv(80, 192, 3)),
            ("pool1", nn.MaxPool2d(3, stride=2)), ("mixed", MixedA(192, 32)), ("mixed_1", MixedA(256, 64)),
            ("mixed_2", MixedA(288, 64)), ("mixed_3", MixedB(288)), ("mixed_4", MixedC(768, 128)),
            ("mixed_5", MixedC(768, 160)), ("mixed_6", MixedC(768, 160)), ("mixed_7", MixedC(768, 192)),
            ("mixed_8", MixedD(768)), ("mixed_9", MixedE(1280, max_pool=False)), ("mixed_10", MixedE(2048, max_pool=True)),
            ("pool2", nn.AvgPool2d(8)),
        ]))
        self.output = nn.Linear(2048, 1008)

    def forward(self, img: torch.Tensor, return_features: bool = False, use_fp16: bool = False,
                no_output_bias: bool = False) -> torch.Tensor:
        n, c, h, w = img.shape
        x = img.to(torch.float32)
        theta = torch.eye(2, 3)
        theta[0, 2] += theta[0, 0] / w - theta[0, 0] / 299
        theta[1, 2] += theta[1, 1] / h - theta[1, 1] / 299
        grid = F.affine_grid(theta.unsqueeze(0).repeat(n, 1, 1), [n, c, 299, 299], False)
        x = (F.grid_sample(x, grid, "bilinear", "border", False) - 128) / 128
        features = self.layers(x).reshape(-1, 2048)
        if return_features:
            return features
        logits = F.linear(features, self.output.weight, None if no_output_bias else self.output.bias)
        return logits.softmax(1)


class NvidiaVGG16(nn.Module):
    """vgg16.pt's layout (layers.conv1..13, layers.fc1..3, lpips0..4) and call, narrowed to keep the test small."""

    def __init__(self, widths=(8, 8, 16, 16, 16), features: int = 32, input_scale: float = 1.0) -> None:
        super().__init__()
        self.input_scale = input_scale  # 1 in NVIDIA's computation
        self.layers = nn.Module()
        cin, index = 3, 1
        for num_convs, cout in zip((2, 2, 3, 3, 3), widths):
            for _ in range(num_convs):
                conv = nn.Conv2d(cin, cout, 3, padding=1)
                nn.init.kaiming_normal_(conv.weight)
                self.layers.add_module(f"conv{index}", conv)
                cin, index = cout, index + 1
        self.layers.fc1 = nn.Linear(cin * 49, features)
        self.layers.fc2 = nn.Linear(features, features)
        self.layers.fc3 = nn.Linear(features, 10)
        self.lpips0 = nn.Parameter(torch.rand(widths[0], 1, 1))
        self.lpips1 = nn.Parameter(torch.rand(widths[1], 1, 1))
        self.lpips2 = nn.Parameter(torch.rand(widths[2], 1, 1))
        self.lpips3 = nn.Parameter(torch.rand(widths[3], 1, 1))
        self.lpips4 = nn.Parameter(torch.rand(widths[4], 1, 1))
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255)

    def forward(self, img: torch.Tensor, resize_images: bool = True, return_lpips: bool = False,
                return_features: bool = False) -> torch.Tensor:
        n, c, h, w = img.shape
        x = img.to(torch.float32) * self.input_scale
        if resize_images:
            theta = torch.eye(2, 3)
            theta[0, 2] += theta[0, 0] / w - theta[0, 0] / 224
            theta[1, 2] += theta[1, 1] / h - theta[1, 1] / 224
            grid = F.affine_grid(theta.unsqueeze(0).repeat(n, 1, 1), [n, c, 224, 224], False)
            x = F.grid_sample(x, grid, "bilinear", "border", False)
        x = (x - self.mean) / self.std
        L = self.layers
        x = F.relu(L.conv2(F.relu(L.conv1(x))))
        f0 = x
        x = F.relu(L.conv4(F.relu(L.conv3(F.max_pool2d(x, 2)))))
        f1 = x
        x = F.relu(L.conv7(F.relu(L.conv6(F.relu(L.conv5(F.max_pool2d(x, 2)))))))
        f2 = x
        x = F.relu(L.conv10(F.relu(L.conv9(F.relu(L.conv8(F.max_pool2d(x, 2)))))))
        f3 = x
        x = F.relu(L.conv13(F.relu(L.conv12(F.relu(L.conv11(F.max_pool2d(x, 2)))))))
        f4 = x
        if return_lpips:
            out = []
            for f, weight in [(f0, self.lpips0), (f1, self.lpips1), (f2, self.lpips2), (f3, self.lpips3), (f4, self.lpips4)]:
                f = f / (torch.sqrt(torch.sum(f ** 2, dim=1, keepdim=True)) + 1e-10)
                out.append((f * weight.sqrt() / (f.shape[2] * f.shape[3]) ** 0.5).flatten(1))
            return torch.cat(out, 1)
        x = F.relu(L.fc2(F.relu(L.fc1(F.max_pool2d(x, 2).flatten(1)))))
        if return_features:
            return x
        return L.fc3(x).softmax(1)


def save_script(module: nn.Module, path: Path) -> Path:
    torch.manual_seed(0)
    torch.jit.script(module.eval()).save(str(path))
    return path


@pytest.fixture
def nvidia_inception(tmp_path) -> Path:
    torch.manual_seed(4)
    return save_script(NvidiaInception(), tmp_path / "inception-2015-12-05.pt")


@pytest.fixture
def nvidia_vgg16(tmp_path) -> Path:
    torch.manual_seed(5)
    return save_script(NvidiaVGG16(), tmp_path / "vgg16.pt")


def uint8_images(size: int, n: int = 2, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def assert_close(got: torch.Tensor, expected: torch.Tensor) -> None:
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))


def test_inception_is_converted_on_first_use_with_the_same_outputs_then_loaded_without_torchscript(
        nvidia_inception, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    detector = load_detector(nvidia_inception, cache_dir=cache)
    assert isinstance(detector, InceptionDetector) and isinstance(detector.net, FIDInceptionV3)
    (converted,) = (cache / "converted").glob("inception-2015-12-05-*.safetensors")
    assert read_converted(converted)[0] == "fid-inception"
    script = torch.jit.load(str(nvidia_inception))
    images = uint8_images(48)
    with torch.no_grad():
        features = detector.features(images)
        assert_close(features, script(images, return_features=True))
        assert_close(detector.class_probabilities(images), script(images, no_output_bias=True))

    def no_torchscript(*args, **kwargs):
        raise AssertionError("TorchScript loaded after the conversion")

    monkeypatch.setattr(torch.jit, "load", no_torchscript)
    again = load_detector(nvidia_inception, cache_dir=cache)
    assert isinstance(again, InceptionDetector) and (again.name, again.digest) == (detector.name, detector.digest)
    with torch.no_grad():
        torch.testing.assert_close(again.features(images), features, rtol=0, atol=0)


def test_vgg16_converts_with_the_same_features_and_lpips(nvidia_vgg16, tmp_path):
    out = tmp_path / "vgg16.safetensors"
    assert convert_torchscript(nvidia_vgg16, out) == "vgg16-lpips"
    script = torch.jit.load(str(nvidia_vgg16))
    detector = load_vgg16(out)
    assert isinstance(detector.module, VGG16LPIPS)
    with torch.no_grad():
        for images in (uint8_images(64), uint8_images(256, seed=3)):
            assert_close(detector.features(images), script(images, return_features=True))
            floats = images.float()
            assert_close(detector.module(floats, resize_images=False, return_lpips=True),
                         script(floats, resize_images=False, return_lpips=True))


def test_vgg16_torchscript_is_converted_on_first_use(nvidia_vgg16, tmp_path):
    detector = load_vgg16(nvidia_vgg16, cache_dir=tmp_path / "cache")
    assert isinstance(detector.module, VGG16LPIPS)
    assert len(list((tmp_path / "cache" / "converted").glob("vgg16-*.safetensors"))) == 1


def test_a_file_the_conversion_does_not_reproduce_is_refused(tmp_path):
    source = save_script(NvidiaVGG16(input_scale=0.5), tmp_path / "vgg16.pt")  # their layout, another computation
    with pytest.raises(ValueError, match="does not reproduce the file's outputs"):
        convert_torchscript(source, tmp_path / "vgg16.safetensors")
    assert not (tmp_path / "vgg16.safetensors").exists()
    with pytest.warns(UserWarning, match="using its TorchScript"):
        detector = load_vgg16(source, cache_dir=tmp_path / "cache")
    assert isinstance(detector.module, torch.jit.ScriptModule)


def test_convert_command_writes_the_safetensors(nvidia_vgg16, tmp_path):
    out = tmp_path / "vgg16.safetensors"
    result = CliRunner().invoke(main, ["convert", str(nvidia_vgg16), str(out), "--trust-torchscript"])
    assert result.exit_code == 0, result.output
    assert read_converted(out)[0] == "vgg16-lpips"


def test_nvidias_layer_names_are_found_without_loading_the_program(nvidia_inception, nvidia_vgg16, tmp_path):
    exported = tmp_path / "g.torchscript.pt"
    torch.jit.script(nn.Sequential(nn.Conv2d(3, 3, 1))).save(str(exported))
    assert names_nvidia_layers(nvidia_inception) and names_nvidia_layers(nvidia_vgg16)
    assert not names_nvidia_layers(exported) and not names_nvidia_layers(tmp_path / "missing.pt")


def test_convert_never_loads_a_torchscript_program_that_is_not_nvidias(tmp_path, monkeypatch):
    """Loading TorchScript runs its code: `stylegan2 convert` of our own export is refused by what it holds."""
    exported = tmp_path / "g.torchscript.pt"
    torch.jit.script(nn.Sequential(nn.Conv2d(3, 3, 1))).save(str(exported))

    def never(path):
        raise AssertionError("jit.load was called")

    monkeypatch.setattr("stylegan2.metrics.convert.jit_load", never)
    result = CliRunner().invoke(main, ["convert", str(exported), str(tmp_path / "g.safetensors")])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert "a TorchScript program, but not NVIDIA's inception-2015-12-05.pt or vgg16.pt" in result.output
    assert "convert the network file it was exported from" in result.output


def test_convert_loads_no_torchscript_without_consent_even_with_nvidias_layer_names(nvidia_vgg16, tmp_path, monkeypatch):
    """Names are easy to copy: a crafted program named as NVIDIA's ran its code inside torch.jit.load (a file written
    by its __setstate__), against security.md's promise that `convert` runs no code."""
    def never(path):
        raise AssertionError("jit.load was called")

    monkeypatch.setattr("stylegan2.metrics.convert.jit_load", never)
    result = CliRunner().invoke(main, ["convert", str(nvidia_vgg16), str(tmp_path / "vgg16.safetensors")])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert result.output.endswith("loading TorchScript runs the code stored in it, so it is not loaded; if it is "
                                  "NVIDIA's inception-2015-12-05.pt or vgg16.pt from nvlabs-fi-cdn.nvidia.com (or "
                                  "another file you trust), pass --trust-torchscript\n")
    assert not (tmp_path / "vgg16.safetensors").exists()
