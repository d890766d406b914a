"""Networks from the web: NVIDIA's published networks by name, and network URLs."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from ..utils.download import default_cache_dir, download

NVIDIA_PRETRAINED_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/"
NVIDIA_NETWORKS = {  # name -> file under NVIDIA_PRETRAINED_URL: their README's networks, then their train.py's resume_specs
    **{name: f"{name}.pkl" for name in ("ffhq", "metfaces", "afhqcat", "afhqdog", "afhqwild", "brecahad", "cifar10")},
    "ffhq256": "transfer-learning-source-nets/ffhq-res256-mirror-paper256-noaug.pkl",
    "ffhq512": "transfer-learning-source-nets/ffhq-res512-mirror-stylegan2-noaug.pkl",
    "ffhq1024": "transfer-learning-source-nets/ffhq-res1024-mirror-stylegan2-noaug.pkl",
    "celebahq256": "transfer-learning-source-nets/celebahq-res256-mirror-paper256-kimg100000-ada-target0.5.pkl",
    "lsundog256": "transfer-learning-source-nets/lsundog-res256-paper256-kimg100000-noaug.pkl",
}


def pretrained_network(name: str, cache_dir: Path | None = None) -> Path:
    """The file of NVIDIA's network `name` in the cache dir, downloaded there the first time (DownloadError if it cannot be).

    The pickle is read like any other network file, without running code from it.
    """
    file = NVIDIA_NETWORKS[name]
    return download(NVIDIA_PRETRAINED_URL + file, (cache_dir or default_cache_dir()) / file.rpartition("/")[2])


def is_url(spec: str | os.PathLike) -> bool:
    """Whether a network is given as an http(s) URL, as NVIDIA's tools accept (--network=https://...pkl)."""
    return isinstance(spec, str) and spec.startswith(("http://", "https://"))


def network_file(spec: str | os.PathLike, cache_dir: Path | None = None, *, names: bool = True) -> Path:
    """A network file given as a path (~ expanded), a URL or, with `names`, one of NVIDIA's network names (`ffhq`,
    `ffhq256`, ...; a file of that name here comes first, a folder does not: write ./ffhq for it), the last two
    downloaded into the cache dir once.

    A URL's hash prefixes its cached name, so two runs' network-snapshot-000400.pkl do not collide.
    """
    if names and isinstance(spec, str) and spec in NVIDIA_NETWORKS and not os.path.isfile(spec):
        return pretrained_network(spec, cache_dir)
    if not is_url(spec):
        return Path(spec).expanduser()
    return download(str(spec), (cache_dir or default_cache_dir()) / "networks" / url_file_name(str(spec)))


def url_file_name(url: str) -> str:
    """The name of a URL's copy in the cache: its file name after a hash of the whole URL."""
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "network"
    return f"{hashlib.sha256(url.encode()).hexdigest()[:12]}-{name}"


def cached_file_name(spec: str) -> str | None:
    """The name `network_file` gives the cache's copy of a URL or of NVIDIA's network `spec` (None for a path),
    without downloading: what tells two downloaded networks apart."""
    if spec in NVIDIA_NETWORKS and not os.path.isfile(spec):
        return NVIDIA_NETWORKS[spec].rpartition("/")[2]
    return url_file_name(spec) if is_url(spec) else None


def network_name(path: Path) -> str:
    """A network file's own name: a URL's cached copy without the hash `network_file` prefixes it with."""
    cached = path.parent.name == "networks" and re.fullmatch(r"[0-9a-f]{12}-.+", path.name)
    return path.name[13:] if cached else path.name


def existing_network_file(spec: str | os.PathLike, *, names: bool = True) -> Path:
    """`network_file(spec, names=names)`, which must exist: else a FileNotFoundError naming --network (and, with
    `names`, NVIDIA's network when the missing file is named after one, as the docs' ffhq.pkl)."""
    path = network_file(spec, names=names)
    if not path.exists():  # a directory or other non-file gets the loader's own message
        name = path.name.removesuffix(".pkl")
        hint = f"; NVIDIA's network of that name: --network {name} (downloaded once)" if names and name in NVIDIA_NETWORKS else ""
        raise FileNotFoundError(f"{path}: no such network file (--network){hint}")
    return path
