"""The Swapping Autoencoder view's logic: images held by id, their codes cached, structure x texture -> image."""

from __future__ import annotations

import re
import shlex
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from ..data.errors import DatasetError
from ..data.images import is_image_name
from ..models import SwapEncoder, SwapGenerator
from ..swapae.tools import decode_codes, encode_images, mix_textures
from ..tools.common import network_device
from ..utils.image import to_uint8_nhwc
from ..utils.notes import warn
from ..utils.text import first_names, number_ranges
from .settings import MAX_IMAGES, SettingsError, SwapSettings, missing_image, parse_swap_settings
from .uploads import decode_upload

MAX_IMAGE_FILE_BYTES = 64 * 2**20  # an --images file larger than this is left out unread (a photo is a few MB)
UPLOAD_PLACES = 8  # of MAX_IMAGES, never taken by --images: uploads always have room


@dataclass
class HeldImage:
    """An input image at the network's size, with its structure [1, C, h, w] and texture [1, D] codes."""

    name: str
    pixels: np.ndarray  # uint8 [H, W, C]
    structure: torch.Tensor
    texture: torch.Tensor
    note: str  # how fitting it to the network changed it beyond a downscale ('' if not at all)
    path: str | None = None  # the file of an --images image, for the command lines; None for an upload


class SwapExplorer:
    """A Swapping Autoencoder and the images it can swap between (picked from a folder, or uploaded).

    Images are held by id, and an id is never given twice: an upload that replaces an old one gets a new id, so an
    address or bookmark naming the old id is refused instead of showing another image."""

    kind = "swapae"

    def __init__(self, E: SwapEncoder, G: SwapGenerator, network: str = "NETWORK") -> None:
        """`network`: the checkpoint's path as the user typed it, for the command lines."""
        self.E, self.G = E, G
        self.network = network
        self.resolution = E.init_kwargs["img_resolution"]
        self.channels = E.init_kwargs["img_channels"]
        self.images: dict[int, HeldImage] = {}  # by id, in the order they were added
        self.issued = 0  # ids given out so far: the next image's id
        self.uploads: deque[int] = deque()  # ids of the uploaded images held, oldest upload first
        self.lock = threading.Lock()  # uploads and renders may come from several server threads

    def encode(self, name: str, data: bytes, where: str | None = None, path: str | None = None) -> HeldImage:
        """Decode an image file's bytes and encode it; `where` names the image in errors (default: the upload's name),
        `path` is its file for the command lines (None: an upload)."""
        fitted, note = decode_upload(data, name, self.resolution, self.channels, where)
        pixels = np.array(fitted)  # writable, for torch
        x = torch.from_numpy(pixels).permute(2, 0, 1)[None].to(network_device(self.E), torch.float32) / 127.5 - 1
        structure, texture = encode_images(self.E, x)
        return HeldImage(Path(name).name, pixels, structure, texture, note, path)

    def add(self, name: str, data: bytes, uploaded: bool = True, where: str | None = None) -> int:
        """Decode, encode and keep an image; returns its id, a new one. Past MAX_IMAGES an upload replaces the oldest
        upload, whose id is then refused, never given again. `where` names the image in errors (default: the upload's
        name)."""
        return self.keep(self.encode(name, data, where), uploaded)

    def upload(self, name: str, data: bytes) -> dict[str, Any]:
        """Keep an uploaded image (see `add`); the page's answer: its id, its name and `fit_note`'s note."""
        held = self.encode(name, data)
        return {"id": self.keep(held, uploaded=True), "name": held.name, "note": held.note}

    def keep(self, held: HeldImage, uploaded: bool) -> int:
        """Hold `held` under a new id; once MAX_IMAGES are held, an upload first drops the oldest upload. Returns the id."""
        with self.lock:
            if len(self.images) >= MAX_IMAGES:
                if not (uploaded and self.uploads):  # reached from Python only: add_folder leaves UPLOAD_PLACES free
                    rule = "an upload replaces only an earlier upload" if uploaded else "only an upload replaces a held image"
                    raise SettingsError(f"the explorer already holds {MAX_IMAGES} images; {rule}")
                del self.images[self.uploads.popleft()]
            index = self.issued
            self.issued += 1
            self.images[index] = held
            if uploaded:
                self.uploads.append(index)
            return index

    def add_folder(self, folder: Path) -> int:
        """Offer the images of a folder (not recursive, by name) for picking, at most MAX_IMAGES - UPLOAD_PLACES of
        them with a warning naming how many were left out; returns how many were added."""
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder (--images)")
        paths = _folder_images(folder)
        if not paths:
            raise SettingsError(f"{folder}: holds no images (--images); give a folder of PNG or JPEG files")
        limit = MAX_IMAGES - UPLOAD_PLACES
        if len(paths) > limit:
            warn(f"--images {folder}: using the first {limit} of its {len(paths)} images (by name); the explorer "
                 f"holds at most {MAX_IMAGES}, {UPLOAD_PLACES} of them for uploads")
            paths = paths[:limit]
        added = 0
        for path in paths:
            try:
                if path.stat().st_size > MAX_IMAGE_FILE_BYTES:
                    raise SettingsError(f"{path} (--images): larger than {MAX_IMAGE_FILE_BYTES:,} bytes")
                held = self.encode(path.name, path.read_bytes(), where=f"{path} (--images)", path=str(path))
            except (SettingsError, DatasetError, OSError) as err:  # one bad photo must not keep the explorer from starting
                warn(f"{err}; left out")
                continue
            if held.note:
                warn(f"{path} (--images): {held.note}")
            self.keep(held, uploaded=False)
            added += 1
        if not added:
            raise SettingsError(f"{folder}: none of its {len(paths)} images could be read (--images); see the notes above")
        return added

    def info(self) -> dict[str, Any]:
        """What the page needs: sizes, the held images as {"id", "name"} by id (ids may have gaps: a replaced upload's
        id is not given again), and `issued`, how many ids were given out (an id below it not held was replaced)."""
        with self.lock:
            images = [{"id": index, "name": image.name} for index, image in self.images.items()]
            issued = self.issued
        return {"kind": self.kind, "network_file": Path(self.network).name, "resolution": self.resolution,
                "channels": self.channels, "images": images, "issued": issued}

    def parse(self, query: Mapping[str, str]) -> SwapSettings:
        """Checked settings from request parameters (see `parse_swap_settings`), against the images held now."""
        with self.lock:
            return parse_swap_settings(query, self.images.keys(), self.issued)

    def image(self, index: int) -> np.ndarray:
        """The held image `index` as the network sees it, uint8 [H, W, C]."""
        with self.lock:
            return self._held(index).pixels

    def pair(self, settings: SwapSettings) -> tuple[HeldImage, HeldImage]:
        """The structure and texture images of `settings`; refused when an upload replaced one after they were
        checked (another tab's upload may come between a request's parse and its render)."""
        with self.lock:
            return self._held(settings.structure), self._held(settings.texture)

    def _held(self, index: int) -> HeldImage:
        """The image held under id `index`, or a SettingsError naming the ids held; call with the lock held."""
        if index not in self.images:
            held = number_ranges(sorted(self.images)) or "none yet"
            raise SettingsError(missing_image(index, held, 0 <= index < self.issued))
        return self.images[index]

    def file_name(self, settings: SwapSettings) -> str:
        """The download's name, one per image: swap-<structure>-<texture>[-a<alpha>].png from the images' names, alpha
        written as the command's --alpha (repr: two alphas never share a name, as 0.3 and 0.30000000000000004 did)."""
        names = [_name_part(image.name) for image in self.pair(settings)]
        alpha = "" if settings.alpha == 1 else f"-a{settings.alpha!r}"
        return f"swap-{names[0]}-{names[1]}{alpha}.png"

    def commands(self, settings: SwapSettings) -> list[str]:
        """The shell command that writes this exact image (as swap_s00_t00.png); an upload is named by its file name."""
        held = self.pair(settings)
        command = ["stylegan2 swapae swap --network", shlex.quote(self.network)]
        for option, image in zip(("--structure", "--texture"), held):
            command += [option, shlex.quote(image.path or image.name)]
        if settings.alpha != 1:
            command += ["--alpha", repr(settings.alpha)]
        return [" ".join(command)]

    def describe(self, settings: SwapSettings) -> dict[str, Any]:
        """The page's text for these settings: the equivalent command, what it needs, and the input images' notes."""
        held = self.pair(settings)
        uploaded = list(dict.fromkeys(image.name for image in held if image.path is None))
        hint = "The command writes this image as swap_s00_t00.png."
        if uploaded:
            hint = f"{' and '.join(uploaded)} {'was' if len(uploaded) == 1 else 'were'} uploaded: give the path of your copy. {hint}"
        notes = {index: f"{image.name}: {image.note}"  # an image used twice is noted once
                 for index, image in zip((settings.structure, settings.texture), held) if image.note}
        return {"commands": self.commands(settings), "hint": hint, "notes": list(notes.values())}

    @torch.no_grad()
    def render(self, settings: SwapSettings) -> np.ndarray:
        """uint8 [H, W, C]: the structure image's layout with its texture moved `alpha` of the way to the texture image's."""
        structure, texture = self.pair(settings)
        mixed = mix_textures(structure.texture, texture.texture, settings.alpha)
        return to_uint8_nhwc(decode_codes(self.G, structure.structure, mixed))[0]


def _name_part(name: str) -> str:
    """A file name's stem as part of a download name: letters, digits, '.', '_' and '-' only, at most 40 of them."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem)[:40] or "image"


def _folder_images(folder: Path) -> list[Path]:
    """The image files of a folder by name, as datasets are read: a symbolic link is followed only when it resolves
    inside the folder (those pointing outside are left out with a warning), and only regular files are kept."""
    top = folder.resolve()
    kept, outside = [], []
    for path in sorted(folder.iterdir()):
        if not is_image_name(path.name):
            continue
        if path.is_symlink() and top not in path.resolve().parents:
            outside.append(path.name)
        elif path.is_file():
            kept.append(path)
    if outside:
        warn(f"--images {folder}: skipped {len(outside)} symbolic link(s) pointing outside the folder: "
             f"{first_names(outside)}")
    return kept
