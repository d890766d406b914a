"""Feature detectors: the networks whose embeddings the metrics compare, and how they are loaded.

Every detector takes uint8 images [N, 3, H, W] (grayscale already repeated to three channels)
and returns float features [N, D]. Three kinds of file are accepted:

- FID Inception weights (`pt_inception-2015-12-05-6726825d.pth` from pytorch-fid, or the same
  state dict saved as `.safetensors`): loaded into `FIDInceptionV3`; no code is executed.
- NVIDIA's metric TorchScript files (`inception-2015-12-05.pt`, `vgg16.pt`): converted on first
  use into safetensors in the cache dir (`converted/`, keyed by the file's SHA-256) and from then on
  loaded from there into FIDInceptionV3 or VGG16LPIPS, so their TorchScript runs once, at the
  conversion (stylegan2.metrics.convert). `stylegan2 convert vgg16.pt vgg16.safetensors` does the same.
- Any other TorchScript module: a custom feature network, called on float images in [0, 1] at
  the dataset's resolution and returning [N, D] (or [N, D, 1, 1]) features.

Loading TorchScript runs code stored in the file: use only files from sources you trust.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import zipfile
from pathlib import Path

import safetensors.torch
import torch
from torch import nn

from ..io.detect import is_torchscript_file
from ..io.errors import one_line
from ..utils.download import DownloadError, default_cache_dir, download
from ..utils.notes import warn
from .convert import INCEPTION, VGG16, convert_script_module, jit_load, network_kind, read_converted, save_converted
from .inception import FIDInceptionV3, preprocess_uint8

INCEPTION_FILE_NAMES = ("pt_inception-2015-12-05-6726825d.pth", "pt_inception-2015-12-05.safetensors",
                        "inception-2015-12-05.safetensors", "inception-2015-12-05.pt")
VGG16_FILE_NAMES = ("vgg16.safetensors", "vgg16.pt")
# Fetched into the cache dir when none of the file names above is there (Inception: the plain state dict).
INCEPTION_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
VGG16_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/vgg16.pt"
# What to do instead of the download, as the end of a sentence: `{cache_dir}` is filled in. The caller says
# what the file is for (a metric, the projection), so these never do.
INCEPTION_HELP = (
    "save the FID Inception weights (pytorch-fid's " + INCEPTION_URL + ", or NVIDIA's "
    "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt) "
    "in {cache_dir}, or pass the file with --detector"
)
VGG16_HELP = "save NVIDIA's VGG16 LPIPS network " + VGG16_URL + " in {cache_dir}, or pass it with --vgg"
VGG16_FILES_HELP = "use NVIDIA's vgg16.pt (" + VGG16_URL + ") or the vgg16.safetensors that `stylegan2 convert` makes of it"


def missing_file(names: tuple[str, ...], cache: Path, first: str | None = None) -> str:
    """'vgg16.pt is not in CACHE (nor vgg16.safetensors)': the file looked for, `first` named first."""
    first = first or names[0]
    others = [name for name in names if name != first]
    return f"{first} is not in {cache}" + (f" (nor {', '.join(others)})" if others else "")


def find_metric_file(path: str | os.PathLike | None, default_names: tuple[str, ...], help_text: str,
                     cache_dir: str | os.PathLike | None = None, url: str | None = None) -> Path:
    """The file the user named, else the first of `default_names` in the cache dir, else `url` downloaded
    there (under its own name, one of `default_names`); a one-line error saying what to fetch by hand when that fails."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if path is not None:
        path = Path(path).expanduser()
        if path.is_dir():
            raise IsADirectoryError(f"{path}: is a directory; give the path of the file itself")
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        return path
    for name in default_names:
        if (cache / name).is_file():
            return cache / name
    if url is None:
        raise FileNotFoundError(f"{missing_file(default_names, cache)}; " + help_text.format(cache_dir=cache))
    download_name = url.rsplit("/", 1)[-1]
    try:
        return download(url, cache / download_name)
    except DownloadError as err:
        raise FileNotFoundError(f"{missing_file(default_names, cache, download_name)} and {err.reason}; "
                                + help_text.format(cache_dir=cache)) from None


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes: identifies detector weights in statistics cache keys."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def module_digest(module: nn.Module) -> str:
    """SHA-256 of a module's parameter and buffer values, for detectors built in Python."""
    digest = hashlib.sha256()
    for key, tensor in module.state_dict().items():
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def forward_argument_names(module: nn.Module) -> list[str]:
    """Names of a module's forward arguments (without self), TorchScript or Python."""
    if isinstance(module, torch.jit.ScriptModule):
        return [arg.name for arg in module.forward.schema.arguments][1:]
    return list(inspect.signature(module.forward).parameters)


def no_class_probabilities(name: str) -> ValueError:
    """The error for an Inception Score asked of a detector without a classifier."""
    return ValueError(f"detector {name!r} gives no class probabilities; the Inception Score needs "
                      "the FID Inception network (--detector pt_inception-2015-12-05-6726825d.pth)")


class FeatureDetector(nn.Module):
    """Base class: uint8 images [N, 3, H, W] -> features [N, D]; `name` and `digest` key the stats cache."""

    def __init__(self, name: str, digest: str) -> None:
        super().__init__()
        self.name = name
        self.digest = digest

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Feature vectors [N, D] of uint8 images [N, C, H, W]."""
        raise NotImplementedError

    @property
    def gives_class_probabilities(self) -> bool:
        """Whether `class_probabilities` works (the Inception Score needs it)."""
        return False

    def class_probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Class probabilities for the Inception Score; only Inception detectors have them."""
        raise no_class_probabilities(self.name)


class InceptionDetector(FeatureDetector):
    """FID Inception-v3 written in PyTorch, with the official resize and normalization."""

    def __init__(self, net: FIDInceptionV3, name: str, digest: str) -> None:
        super().__init__(name, digest)
        self.net = net.eval().requires_grad_(False)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.features(preprocess_uint8(images))

    @property
    def gives_class_probabilities(self) -> bool:
        return True

    def class_probabilities(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.class_probabilities(self.features(images))


class NvidiaScriptDetector(FeatureDetector):
    """A network called as NVIDIA's metric files are (uint8 in; `return_features`, `return_lpips`): our
    VGG16LPIPS, or a TorchScript file of theirs that could not be converted."""

    def __init__(self, module: nn.Module, name: str, digest: str) -> None:
        super().__init__(name, digest)
        self.module = module.eval()

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.module(images, return_features=True)

    @property
    def gives_class_probabilities(self) -> bool:
        return "no_output_bias" in forward_argument_names(self.module)

    def class_probabilities(self, images: torch.Tensor) -> torch.Tensor:
        if not self.gives_class_probabilities:
            return super().class_probabilities(images)
        return self.module(images, no_output_bias=True)


class CustomDetector(FeatureDetector):
    """Any feature network (TorchScript or nn.Module) called on float images in [0, 1]; output flattened."""

    def __init__(self, module: nn.Module, name: str, digest: str) -> None:
        super().__init__(name, digest)
        self.module = module.eval()

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.module(images.to(torch.float32) / 255).flatten(1)  # [N, D]


def inception_from_state_dict(state_dict: dict[str, torch.Tensor], source: str) -> FIDInceptionV3:
    """Build the FID Inception and load pytorch-fid-layout weights into it, naming the file on mismatch."""
    net = FIDInceptionV3()
    expected = set(net.state_dict())
    given = set(state_dict)
    missing = sorted(k for k in expected - given if not k.endswith("num_batches_tracked"))
    unexpected = sorted(given - expected)
    if missing or unexpected:
        raise ValueError(f"{source}: not an FID Inception state dict ({len(missing)} missing keys, e.g. "
                         f"{missing[:3]}; {len(unexpected)} unexpected, e.g. {unexpected[:3]}); expected "
                         "pytorch-fid's pt_inception-2015-12-05-6726825d.pth layout")
    try:
        net.load_state_dict(state_dict, strict=False)
    except RuntimeError as e:
        raise ValueError(f"{source}: tensor shapes do not match the FID Inception: {e}") from e
    return net


def converted_path(path: Path, digest: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the safetensors conversion of NVIDIA's TorchScript file `path` (with SHA-256 `digest`) is kept."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return cache / "converted" / f"{path.stem}-{digest[:16]}.safetensors"


def load_torchscript(path: Path, digest: str, cache_dir: str | os.PathLike | None) -> tuple[str | None, nn.Module]:
    """(kind, network) of a TorchScript file: NVIDIA's converted into ours (from the cache once converted, so
    their TorchScript runs only the first time), any other file as its TorchScript module (kind None)."""
    converted = converted_path(path, digest, cache_dir)
    if converted.is_file():
        found = read_converted(converted)
        if found is not None:
            return found
    module = jit_load(path)
    if network_kind(dict(module.state_dict())) is None:
        return None, module
    try:
        kind, state, net = convert_script_module(module, str(path))
    except ValueError as err:
        warn(f"{err}; using its TorchScript")
        return None, module
    try:
        save_converted(state, kind, path.name, converted)
    except OSError as err:
        warn(f"could not keep the conversion of {path.name} in {converted.parent} ({err}); it is converted "
             "again next time")
    return kind, net


def find_detector_file(path: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None) -> Path:
    """`path`, else the FID Inception file in the cache dir (downloaded there if it can be)."""
    return find_metric_file(path, INCEPTION_FILE_NAMES, INCEPTION_HELP, cache_dir, INCEPTION_URL)


def find_vgg16_file(path: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None) -> Path:
    """`path`, else NVIDIA's VGG16 in the cache dir (downloaded there if it can be)."""
    return find_metric_file(path, VGG16_FILE_NAMES, VGG16_HELP, cache_dir, VGG16_URL)


def load_detector(path: str | os.PathLike | None = None, device: torch.device | str = "cpu",
                  cache_dir: str | os.PathLike | None = None) -> FeatureDetector:
    """Load a detector from `path` (or the default Inception file in the cache dir) onto `device`."""
    path = find_detector_file(path, cache_dir)
    name, digest = path.stem, file_digest(path)
    named = re.search(r"-([0-9a-f]{8})$", name)  # pytorch-fid names its file by its SHA-256's first digits
    if named and not digest.startswith(named[1]):
        warn(f"{path}: its SHA-256 begins {digest[:8]}, not {named[1]} as its name says, so it is not the file "
             "pytorch-fid publishes; scores from it are not comparable with published ones")
    if is_torchscript_file(path):
        kind, module = load_torchscript(path, digest, cache_dir)
        if kind == INCEPTION:
            return InceptionDetector(module, name, digest).to(device)
        if "return_features" in forward_argument_names(module):
            return NvidiaScriptDetector(module, name, digest).to(device)
        return CustomDetector(module, name, digest).to(device)
    if path.suffix == ".safetensors":
        state_dict = safetensors.torch.load_file(str(path))
    else:
        try:
            state_dict = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises several types for foreign or unsafe files
            with open(path, "rb") as f:
                torch_saved = zipfile.is_zipfile(f) or f.read(1) == b"\x80"  # torch.save's zip, or its older pickle
                f.seek(0)
                cut_short = not torch_saved and f.read(4) == b"PK\x03\x04"  # a zip's start without its end
            reason = one_line(e) if torch_saved else "not written by torch.save, safetensors or torch.jit.save"
            if cut_short:
                reason = f"truncated: a zip archive without its end, {path.stat().st_size:,} bytes; download it again"
            raise ValueError(f"{path}: cannot read as a weights file or TorchScript module ({reason})") from e
        if not isinstance(state_dict, dict):
            raise ValueError(f"{path}: expected a state dict of the FID Inception, got {type(state_dict).__name__}")
    return InceptionDetector(inception_from_state_dict(state_dict, str(path)), name, digest).to(device)


def load_vgg16(path: str | os.PathLike | None = None, device: torch.device | str = "cpu",
               cache_dir: str | os.PathLike | None = None) -> NvidiaScriptDetector:
    """Load NVIDIA's VGG16 (features for precision/recall, LPIPS for PPL and projection): our conversion of
    their vgg16.pt (made on first use) or a vgg16.safetensors that `stylegan2 convert` wrote."""
    path = find_vgg16_file(path, cache_dir)
    digest = file_digest(path)
    if path.suffix == ".safetensors":
        found = read_converted(path)
        if found is None or found[0] != VGG16:
            raise ValueError(f"{path}: not a VGG16 converted by `stylegan2 convert`; " + VGG16_FILES_HELP)
        module = found[1]
    elif is_torchscript_file(path):
        module = load_torchscript(path, digest, cache_dir)[1]
    else:
        raise ValueError(f"{path}: not a TorchScript file, so not NVIDIA's VGG16; " + VGG16_FILES_HELP)
    arguments = forward_argument_names(module)
    if "return_features" not in arguments or "return_lpips" not in arguments:
        raise ValueError(f"{path}: forward takes {arguments}, not NVIDIA's VGG16 (return_features, return_lpips)")
    return NvidiaScriptDetector(module, path.stem, digest).to(device)
