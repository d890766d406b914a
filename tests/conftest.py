"""Shared test setup: this checkout's package for the tests and the Pythons they start, where the team's shared fixtures live,
a fixed seed and no downloads for every test."""

import importlib.util
import os
import runpy
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from stylegan2.utils.device import configure_backends
from stylegan2.utils.download import OFFLINE_VARIABLE

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

# The tests import this checkout's src/ (pyproject's `pythonpath`), not another installed copy; so do the Pythons they
# start (`python -m stylegan2`, torchrun's workers), which inherit this variable through `dict(os.environ, ...)`.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))


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


@pytest.fixture
def run_script(monkeypatch, capsys) -> Callable[..., subprocess.CompletedProcess]:
    """Run a repository script (benchmarks/, experiments/) in this process as `python SCRIPT ARGS` runs it from `cwd`:
    its folder first on sys.path, its exit status, stdout and stderr. A check of bad options then takes milliseconds
    instead of the seconds a new interpreter spends importing torch. `blocked` modules import as if not installed.
    An exception other than SystemExit propagates and fails the test (in a terminal it would be a traceback)."""

    def run(script: Path, args: list[str], cwd: Path, blocked: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", [str(script), *args])
        monkeypatch.syspath_prepend(str(script.parent))
        for name in blocked:
            monkeypatch.setitem(sys.modules, name, None)
        threads, environment = torch.get_num_threads(), dict(os.environ)
        capsys.readouterr()
        try:
            runpy.run_path(str(script), run_name="__main__")
            code = 0
        except SystemExit as exit_:
            code = exit_.code
            if code is not None and not isinstance(code, int):  # sys.exit("message"): the interpreter prints it, status 1
                print(code, file=sys.stderr)
                code = 1
        finally:
            torch.set_num_threads(threads)
            os.environ.clear()
            os.environ.update(environment)
        output = capsys.readouterr()
        return subprocess.CompletedProcess([sys.executable, str(script), *args], code or 0, output.out, output.err)

    return run


@pytest.fixture(scope="session")
def rosinality_layout() -> types.ModuleType:
    """tests/rosinality_layout.py, which writes networks under rosinality's names."""
    return helper_module(Path(__file__).with_name("rosinality_layout.py"))


@pytest.fixture(scope="session")
def tf_pickles() -> types.ModuleType:
    """tests/io/tf_pickles.py, which writes TensorFlow StyleGAN2 pickles."""
    return helper_module(Path(__file__).parent / "io" / "tf_pickles.py")


# The child imports the package first, then caps its address space at what that import mapped plus the headroom:
# a fixed total does not fit CUDA builds of torch, whose libraries alone map several GiB.
_CAP_AFTER_IMPORT = """
import resource, stylegan2
mapped = 1024 * next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (mapped + {headroom}, mapped + {headroom}))
"""


@pytest.fixture(scope="session")
def memory_limited_python() -> Callable[..., subprocess.CompletedProcess]:
    """Run code in a fresh one-thread Python allowed `headroom` bytes (default 1.5 GiB) beyond what importing
    stylegan2 and torch maps, so that a huge allocation fails there instead of exhausting the machine."""
    if not Path("/proc/self/status").is_file():
        pytest.skip("the address-space cap reads /proc/self/status (Linux only)")

    def run(code: str, *args: str, headroom: int = 3 * 2**29) -> subprocess.CompletedProcess:
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MALLOC_ARENA_MAX="2")
        return subprocess.run([sys.executable, "-c", _CAP_AFTER_IMPORT.format(headroom=headroom) + code, *args],
                              capture_output=True, text=True, timeout=120, env=env)

    return run
