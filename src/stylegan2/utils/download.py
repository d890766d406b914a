"""Fetch a published file (NVIDIA's networks, the metric detectors) into the cache directory once."""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from .files import create_temp

OFFLINE_VARIABLE = "STYLEGAN2_OFFLINE"  # set to 1 to never download (the error then says what to fetch by hand)
TIMEOUT_SECONDS = 60.0  # per network read, not for the whole file


def default_cache_dir() -> Path:
    """Where downloaded networks, detector files and cached dataset statistics live: $STYLEGAN2_CACHE or ~/.cache/stylegan2."""
    env = os.environ.get("STYLEGAN2_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "stylegan2"


class DownloadError(OSError):
    """A file could not be fetched; the message says from where, why, and where to put it by hand."""


def download(url: str, dest: Path, *, progress: bool = True) -> Path:
    """`dest`, fetched from `url` first unless it exists. The file appears whole or not at all
    (written beside it, then renamed), so an interrupted download never leaves a truncated file."""
    if dest.is_file():
        return dest
    by_hand = f"download {url} into {dest.parent} by hand"
    if os.environ.get(OFFLINE_VARIABLE, "") not in ("", "0"):
        raise DownloadError(f"{dest.name} is not in {dest.parent} and ${OFFLINE_VARIABLE} forbids downloading it; {by_hand}")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            size = int(response.headers.get("Content-Length") or 0) or None
            fd, tmp = create_temp(dest)  # our temporary naming: a killed download's leftover is swept later
            try:
                with os.fdopen(fd, "wb") as out, tqdm(total=size, unit="B", unit_scale=True, desc=dest.name,
                                                      disable=not progress, leave=False) as bar:
                    for chunk in iter(lambda: response.read(1 << 20), b""):
                        out.write(chunk)
                        bar.update(len(chunk))
                if size is not None and os.path.getsize(tmp) != size:
                    raise DownloadError(f"{url}: the connection ended after {os.path.getsize(tmp):,} of {size:,} bytes; "
                                        f"try again, or {by_hand}")
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
    except DownloadError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or err
        raise DownloadError(f"could not download {url} ({reason}); {by_hand}") from None
    return dest
