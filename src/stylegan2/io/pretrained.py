"""Networks from the web: NVIDIA's transfer-learning networks by their --resume names, and network URLs."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..utils.download import default_cache_dir, download

NVIDIA_TRANSFER_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/transfer-learning-source-nets/"
NVIDIA_TRANSFER_FILES = {  # their train.py's resume_specs
    "ffhq256": "ffhq-res256-mirror-paper256-noaug.pkl",
    "ffhq512": "ffhq-res512-mirror-stylegan2-noaug.pkl",
    "ffhq1024": "ffhq-res1024-mirror-stylegan2-noaug.pkl",
    "celebahq256": "celebahq-res256-mirror-paper256-kimg100000-ada-target0.5.pkl",
    "lsundog256": "lsundog-res256-paper256-kimg100000-noaug.pkl",
}


def pretrained_network(name: str, cache_dir: Path | None = None) -> Path:
    """The file of NVIDIA's network `name` in the cache dir, downloaded there the first time (DownloadError if it cannot be).

    The pickle is read like any other network file, without running code from it.
    """
    file_name = NVIDIA_TRANSFER_FILES[name]
    return download(NVIDIA_TRANSFER_URL + file_name, (cache_dir or default_cache_dir()) / file_name)


def resume_file(spec: str) -> Path:
    """The file a `--resume` value names: one of NVIDIA's network names (downloaded once), a URL (the same) or a path."""
    return pretrained_network(spec) if spec in NVIDIA_TRANSFER_FILES else network_file(spec)


def is_url(spec: str | os.PathLike) -> bool:
    """Whether a network is given as an http(s) URL, as NVIDIA's tools accept (--network=https://...pkl)."""
    return isinstance(spec, str) and spec.startswith(("http://", "https://"))


def network_file(spec: str | os.PathLike, cache_dir: Path | None = None) -> Path:
    """A network file given as a path (~ expanded) or a URL, downloaded into the cache dir's networks/ once.

    The URL's hash prefixes the cached name, so two runs' network-snapshot-000400.pkl do not collide.
    """
    if not is_url(spec):
        return Path(spec).expanduser()
    url = str(spec)
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "network"
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    return download(url, (cache_dir or default_cache_dir()) / "networks" / f"{digest}-{name}")
