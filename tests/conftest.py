"""Shared test setup: where the team's shared fixtures live, and a fixed seed for every test."""

from pathlib import Path

import pytest
import torch

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


@pytest.fixture
def one_thread():
    """Run the test on one torch thread: tiny convolutions run far faster on one thread than on two busy ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
