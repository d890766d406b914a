"""Factories for tiny image datasets on disk: folders, zips and .npz files."""

import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import PIL.Image
import pytest


def random_images(count: int, size: int, channels: int, seed: int = 0) -> np.ndarray:
    """uint8 [N, H, W, C] noise images, distinct per index."""
    return np.random.default_rng(seed).integers(0, 256, size=(count, size, size, channels), dtype=np.uint8)


def save_image(path: Path, image: np.ndarray) -> None:
    """Save uint8 [H, W, C] to `path` in the format its extension names (lossless for PNG)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL.Image.fromarray(image.squeeze(2) if image.shape[2] == 1 else image).save(path)


@pytest.fixture
def make_folder(tmp_path: Path) -> Callable[..., Path]:
    """Write images as `root/a/img{i}.ext` (first half) and `root/b/img{i}.ext`, with optional dataset.json."""

    def make(images: np.ndarray, *, name: str = "pics", ext: str = "png", labels: list | None = None) -> Path:
        root = tmp_path / name
        names = [f"{'a' if i < len(images) // 2 else 'b'}/img{i}.{ext}" for i in range(len(images))]
        for image, rel in zip(images, names):
            save_image(root / rel, image)
        if labels is not None:
            (root / "dataset.json").write_text(json.dumps({"labels": [[n, label] for n, label in zip(names, labels)]}))
        return root

    return make


@pytest.fixture
def make_zip(tmp_path: Path) -> Callable[[Path], Path]:
    """Zip a folder tree (deflated, to show compression does not matter) next to it."""

    def make(folder: Path) -> Path:
        dest = tmp_path / f"{folder.name}.zip"
        with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    z.write(path, path.relative_to(folder).as_posix())
        return dest

    return make


def tree_digest(root: Path) -> str:
    """Hash of every file's path, bytes and mtime under root (or of one file), to prove nothing changed."""
    digest = hashlib.sha256()
    for path in sorted([root] if root.is_file() else root.rglob("*")):
        if path.is_file():
            digest.update(f"{path}:{path.stat().st_mtime_ns}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def digest() -> Callable[[Path], str]:
    """The `tree_digest` helper, as a fixture for the test modules."""
    return tree_digest


@pytest.fixture
def images_rgb() -> np.ndarray:
    """Six RGB 16x16 noise images."""
    return random_images(6, 16, 3)


@pytest.fixture
def mnist_path() -> Path:
    """The team's MNIST npz (skipped when the sibling shared directory is absent)."""
    path = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mnist" / "mnist.npz"
    if not path.is_file():
        pytest.skip(f"{path} not found: MNIST lives in the team's shared directory")
    return path


@pytest.fixture
def noise() -> Callable[..., np.ndarray]:
    """The `random_images(count, size, channels, seed=0)` factory."""
    return random_images
