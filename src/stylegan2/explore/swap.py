"""The Swapping Autoencoder view's logic: images held by id, their codes cached, structure x texture -> image."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from ..data.images import is_image_name
from ..models import SwapEncoder, SwapGenerator
from ..swapae.tools import decode_codes, encode_images, mix_textures
from ..tools.common import network_device
from ..utils.image import to_uint8_nhwc
from .settings import SettingsError, SwapSettings, parse_swap_settings
from .uploads import decode_upload

MAX_IMAGES = 64  # uploads beyond this replace the oldest upload, so memory stays bounded


@dataclass
class HeldImage:
    """An input image at the network's size, with its structure [1, C, h, w] and texture [1, D] codes."""

    name: str
    pixels: np.ndarray  # uint8 [H, W, C]
    structure: torch.Tensor
    texture: torch.Tensor
    uploaded: bool


class SwapExplorer:
    """A Swapping Autoencoder and the images it can swap between (picked from a folder, or uploaded)."""

    kind = "swapae"

    def __init__(self, E: SwapEncoder, G: SwapGenerator) -> None:
        self.E, self.G = E, G
        self.resolution = E.init_kwargs["img_resolution"]
        self.channels = E.init_kwargs["img_channels"]
        self.images: list[HeldImage] = []
        self.lock = threading.Lock()  # uploads and renders may come from several server threads

    def add(self, name: str, data: bytes, uploaded: bool = True, where: str | None = None) -> int:
        """Decode, encode and keep an image; returns its id. Past MAX_IMAGES an upload replaces the oldest upload.
        `where` names the image in errors (default: the upload's name)."""
        pixels = np.array(decode_upload(data, name, self.resolution, self.channels, where))  # writable, for torch
        x = torch.from_numpy(pixels).permute(2, 0, 1)[None].to(network_device(self.E), torch.float32) / 127.5 - 1
        structure, texture = encode_images(self.E, x)
        held = HeldImage(Path(name).name, pixels, structure, texture, uploaded)
        with self.lock:
            if len(self.images) < MAX_IMAGES:
                self.images.append(held)
                return len(self.images) - 1
            oldest = next((i for i, image in enumerate(self.images) if image.uploaded), None)
            if oldest is None:
                raise SettingsError(f"the explorer already holds {MAX_IMAGES} images; restart it to upload more")
            self.images[oldest] = held
            return oldest

    def add_folder(self, folder: Path) -> int:
        """Offer every image of a folder (not recursive) for picking; returns how many were added."""
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder (--images)")
        paths = sorted(p for p in folder.iterdir() if p.is_file() and is_image_name(p.name))[:MAX_IMAGES]
        if not paths:
            raise SettingsError(f"{folder}: holds no images (--images); give a folder of PNG or JPEG files")
        for path in paths:
            self.add(path.name, path.read_bytes(), uploaded=False, where=f"{path} (--images)")
        return len(paths)

    def info(self) -> dict[str, Any]:
        """What the page needs: sizes and the held images' names."""
        with self.lock:
            names = [image.name for image in self.images]
        return {"kind": self.kind, "resolution": self.resolution, "channels": self.channels, "images": names}

    def parse(self, query: Mapping[str, str]) -> SwapSettings:
        with self.lock:
            return parse_swap_settings(query, len(self.images))

    def image(self, index: int) -> np.ndarray:
        """The held image `index` as the network sees it, uint8 [H, W, C]."""
        with self.lock:
            if not 0 <= index < len(self.images):
                raise SettingsError(f"image {index} does not exist; ids run 0..{len(self.images) - 1}")
            return self.images[index].pixels

    @torch.no_grad()
    def render(self, settings: SwapSettings) -> np.ndarray:
        """uint8 [H, W, C]: the structure image's layout with its texture moved `alpha` of the way to the texture image's."""
        with self.lock:
            structure, texture = self.images[settings.structure], self.images[settings.texture]
        mixed = mix_textures(structure.texture, texture.texture, settings.alpha)
        return to_uint8_nhwc(decode_codes(self.G, structure.structure, mixed))[0]
