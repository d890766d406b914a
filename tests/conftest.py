"""Shared test setup: where the team's shared fixtures live, a fixed seed and no downloads for every test."""

import importlib.util
import types
from pathlib import Path

import pytest
import torch

from stylegan2.utils.device import configure_backends
from stylegan2.utils.download import OFFLINE_VARIABLE

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def shared_dir() -> Path:
    """The sibling `../shared` directory (fixtures, data); skip when this checkout has none."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} not found: the reference fixtures live in the team's shared directory")
    return SHARED


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _fp32_as_in_training():
    """On CUDA, fp32 convolutions and matrix products run in fp32 as training sets them (configure_backends:
    TF32 off), not torch's TF32 default for convolutions, whose 10-bit mantissa would fail the tight comparisons."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    configure_backends(torch.device("cuda"), cudnn_benchmark=torch.backends.cudnn.benchmark)
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.fixture(autouse=True)
def _offline(monkeypatch) -> None:
    """No test downloads anything: a missing detector or network fails as it does on a machine without internet."""
    monkeypatch.setenv(OFFLINE_VARIABLE, "1")


@pytest.fixture
def one_thread():
    """Run the test on one torch thread: tiny convolutions run far faster on one thread than on two busy ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def helper_module(path: Path) -> types.ModuleType:
    """Load a test helper module (not a test) by its path: tests are not a package."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def rosinality_layout() -> types.ModuleType:
    """tests/rosinality_layout.py, which writes networks under rosinality's names."""
    return helper_module(Path(__file__).with_name("rosinality_layout.py"))


@pytest.fixture(scope="session")
def tf_pickles() -> types.ModuleType:
    """tests/io/tf_pickles.py, which writes TensorFlow StyleGAN2 pickles."""
    return helper_module(Path(__file__).parent / "io" / "tf_pickles.py")
