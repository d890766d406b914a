"""Fetch a published file (NVIDIA's networks, the metric detectors) into the cache directory once."""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from .files import create_temp
from .progress import progress_bar

OFFLINE_VARIABLE = "STYLEGAN2_OFFLINE"  # set to 1 to never download (the error then says what to fetch by hand)
TIMEOUT_SECONDS = 60.0  # per network read, not for the whole file


def default_cache_dir() -> Path:
    """Where downloaded networks, detector files and cached dataset statistics live: $STYLEGAN2_CACHE, else
    $XDG_CACHE_HOME/stylegan2 (as pip and torch.hub follow it), else ~/.cache/stylegan2."""
    env = os.environ.get("STYLEGAN2_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "stylegan2"


class DownloadError(OSError):
    """A file could not be fetched; the message says from where, why, and where to put it by hand.

    `reason` is the why alone (e.g. "$STYLEGAN2_OFFLINE forbids downloading it"), for callers that
    phrase the rest of the message themselves.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


def by_hand(url: str, dest: Path) -> str:
    """How to put the file in place yourself; the exact name when the cache's differs from the URL's (a hash prefix)."""
    if dest.name == url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]:
        return f"download {url} into {dest.parent} by hand"
    return f"download {url} by hand and save it as {dest}"


def download(url: str, dest: Path, *, progress: bool = True) -> Path:
    """`dest`, fetched from `url` first unless it exists. The file appears whole or not at all
    (written beside it, then renamed), so an interrupted download never leaves a truncated file."""
    if dest.is_file():
        return dest
    fix = by_hand(url, dest)
    if os.environ.get(OFFLINE_VARIABLE, "") not in ("", "0"):
        reason = f"${OFFLINE_VARIABLE} forbids downloading it"
        raise DownloadError(f"{dest.name} is not in {dest.parent} and {reason}; {fix}", reason)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            size = int(response.headers.get("Content-Length") or 0) or None
            fd, tmp = create_temp(dest)  # our temporary naming: a killed download's leftover is swept later
            try:
                with os.fdopen(fd, "wb") as out, progress_bar(show=progress, total=size, unit="B", unit_scale=True,
                                                              desc=dest.name, leave=False) as bar:
                    for chunk in iter(lambda: response.read(1 << 20), b""):
                        out.write(chunk)
                        bar.update(len(chunk))
                if size is not None and os.path.getsize(tmp) != size:
                    cut = f"the connection ended after {os.path.getsize(tmp):,} of {size:,} bytes"
                    raise DownloadError(f"{url}: {cut}; try again, or {fix}", f"its download failed ({cut})")
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
    except DownloadError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
        why = getattr(err, "reason", None) or err
        raise DownloadError(f"could not download {url} ({why}); {fix}", f"its download failed ({why})") from None
    return dest
