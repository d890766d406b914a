"""Whether NVIDIA's code (a stylegan2-ada-pytorch checkout) runs its custom CUDA ops or its reference ops.

    python benchmarks/official_ops.py .official/stylegan2-ada-pytorch     # build the plugins now, say how it went

NVIDIA's `bias_act` and `upfirdn2d` compile their CUDA plugins on first use and, when that fails,
warn and fall back to slower reference PyTorch ops. `build_plugins` builds both up front and turns
the outcome into one line, so a benchmark says which code it timed. Their `upfirdn2d._init` does
not remember a failure and would try the build again at every call; after a failure it is replaced
in the loaded module (their files are not touched) so that the reference ops are timed, not builds.
Their `get_plugin` also expects `cpp_extension.load` to leave the built module in `sys.modules` (torch
before 1.10 did); `register_built_extensions` restores that, or a build that succeeded fails at import.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from types import ModuleType

import torch

COMPILED = "official: custom CUDA ops compiled"
TORCH_CUDA_HEADERS = ("cuda_runtime_api.h", "cusparse.h", "cublas_v2.h", "cublasLt.h", "cusolverDn.h")  # ATen/cuda/CUDAContext.h's


def cuda_home() -> str | None:
    """The CUDA toolkit root: where `nvcc` on PATH lives if CUDA's headers are beside it, else /usr/local/cuda."""
    nvcc = shutil.which("nvcc")
    candidates = ([str(Path(nvcc).resolve().parents[1])] if nvcc else []) + ["/usr/local/cuda"]
    for home in candidates:
        if (Path(home) / "bin" / "nvcc").exists() and (Path(home) / "include" / "cuda_runtime_api.h").exists():
            return home
    return None


def nvidia_wheel_dirs(name: str) -> list[Path]:
    """Folders called `name` (include, lib) inside the pip-installed NVIDIA packages (nvidia-cublas, ...)."""
    try:
        import nvidia  # a namespace package that the nvidia-* wheels share
    except ImportError:
        return []
    return sorted({p for root in nvidia.__path__ for p in Path(root).glob(f"**/{name}") if p.is_dir()})


def prepare_build_env() -> list[str]:
    """Point torch's extension builder at CUDA, ninja and the headers and library it links; return what was set.

    Images that ship CUDA partly as pip wheels have nvcc under /usr/local/cuda, maybe behind a wrapper script
    on PATH (from which torch would guess a wrong CUDA_HOME), and keep the cuBLAS/cuSPARSE/cuSOLVER headers
    that torch's CUDA headers include, and sometimes libcudart.so, only inside the wheels. Call this before
    NVIDIA's code is imported: torch reads CUDA_HOME when its extension builder is first imported.
    """
    notes = []
    if not os.environ.get("CUDA_HOME") and not os.environ.get("CUDA_PATH") and (home := cuda_home()):
        os.environ["CUDA_HOME"] = home
        notes.append(f"CUDA_HOME={home}")
    home = Path(os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH") or "/usr/local/cuda")
    if shutil.which("ninja") is None:
        try:
            import ninja  # the PyPI package, whose binary need not be on PATH
            os.environ["PATH"] = f"{ninja.BIN_DIR}{os.pathsep}{os.environ['PATH']}"
            notes.append(f"PATH+={ninja.BIN_DIR}")
        except ImportError:
            notes.append("no ninja on PATH or in Python (pip install ninja)")
    missing = [header for header in TORCH_CUDA_HEADERS if not (home / "include" / header).exists()]
    include = sorted({str(d) for d in nvidia_wheel_dirs("include") for header in missing if (d / header).exists()})
    if include:
        os.environ["CPATH"] = os.pathsep.join(include + [p for p in [os.environ.get("CPATH")] if p])
        notes.append(f"CPATH+={os.pathsep.join(include)}")
    if not any((home / lib / "libcudart.so").exists() for lib in ("lib64", "lib")):
        found = [f for d in nvidia_wheel_dirs("lib") for f in sorted(d.glob("libcudart.so.*"))]
        if found:
            links = Path(tempfile.mkdtemp(prefix="cudart-"))
            (links / "libcudart.so").symlink_to(found[0])
            os.environ["LIBRARY_PATH"] = os.pathsep.join([str(links)] + [p for p in [os.environ.get("LIBRARY_PATH")] if p])
            notes.append(f"LIBRARY_PATH+={links} (libcudart.so -> {found[0]})")
    return notes


def import_official(path: str, build: bool, option: str = "--official ") -> list[str]:
    """Make the checkout's packages (training, torch_utils, dnnlib) importable; with `build`, prepare the plugin build.
    A path that is no checkout stops the script with one line that starts with `option` and the path."""
    if not (Path(path) / "torch_utils" / "ops" / "bias_act.py").exists():
        sys.exit(f"{option}{path}: not a checkout of NVlabs/stylegan2-ada-pytorch (no torch_utils/ops/bias_act.py)")
    if path not in sys.path:
        sys.path.insert(0, path)
    try:
        import distutils.util  # noqa: F401  (their dnnlib imports it; Python 3.12 dropped it from the standard library)
    except ImportError:
        import setuptools  # noqa: F401  (which puts its own copy of distutils in place)
    return prepare_build_env() if build else []


def failure_reason(details: str) -> str:
    """One line from a failed plugin build: the compiler's first error, else the exception's message."""
    lines = [line.strip() for line in details.splitlines() if line.strip()]
    for line in lines:
        if re.search(r"\berror\b|cannot find|undefined reference", line, re.IGNORECASE) \
                and not re.match(r"[\w.]+(Error|Exception)\b", line) \
                and not line.startswith(("Traceback", "File ", "FAILED:", "ninja: build stopped", "collect2:")):
            return re.sub(r"^\S*/(?=[^/\s]+:\d+)", "", line)[:300]  # without the file's folder
    exceptions = [line for line in lines if re.match(r"[\w.]+(Error|Exception)\b", line)]
    return (exceptions or lines or ["no details"])[-1][:300]


def register_built_extensions() -> None:
    """Make torch's `cpp_extension.load` register the module it builds in `sys.modules`, as torch < 1.10 did.

    NVIDIA's `get_plugin` calls `load(name=...)` and then `importlib.import_module(name)`; newer torch loads the
    built library from its file without registering it, so that import raised ModuleNotFoundError after a
    successful build (their plugins then fell back to the reference ops).
    """
    from torch.utils import cpp_extension

    load = cpp_extension.load
    if getattr(load, "registers_module", False):
        return

    def load_and_register(*args, **kwargs):
        module = load(*args, **kwargs)
        name = kwargs.get("name", args[0] if args else None)
        if isinstance(module, ModuleType) and name:
            sys.modules.setdefault(name, module)
        return module

    load_and_register.registers_module = True
    cpp_extension.load = load_and_register


def accept_sampler_data_source() -> None:
    """Let `torch.utils.data.Sampler(data_source)` be called, as NVIDIA's InfiniteSampler does.

    torch 2.2 deprecated the argument and later releases dropped it, so their training loop stopped with
    "object.__init__() takes exactly one argument" before its first step; the argument was never used.
    """
    from torch.utils.data import Sampler

    init = Sampler.__init__
    if getattr(init, "accepts_data_source", False):
        return

    def init_ignoring_data_source(self, data_source=None):
        init(self)

    init_ignoring_data_source.accepts_data_source = True
    Sampler.__init__ = init_ignoring_data_source


def build_plugins() -> tuple[str, str]:
    """Build (or load the cached build of) both plugins; return the status line and the failures' full text."""
    register_built_extensions()
    from torch_utils.ops import bias_act, upfirdn2d  # NVIDIA's code, from import_official's path

    reasons, details = [], []
    for module in (bias_act, upfirdn2d):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            built = module._init()
        if not built:
            text = "\n".join(str(w.message) for w in caught) or "no warning was raised"
            name = module.__name__.rsplit(".", 1)[-1]
            reasons.append(f"{name}: {failure_reason(text)}")
            details.append(f"--- {name} ---\n{text}")
            never_build(module)  # stop their retries (see the module's docstring)
    if not reasons:
        return COMPILED, ""
    return f"official: reference ops (plugin build failed: {'; '.join(reasons)})", "\n".join(details)


def never_build(module: ModuleType) -> None:
    """Make one of NVIDIA's op modules answer "no plugin" at once, so its reference op runs."""
    module._init = lambda: False


def use_reference_ops() -> None:
    """Make NVIDIA's code run its reference ops without trying to build its plugins."""
    from torch_utils.ops import bias_act, upfirdn2d

    for module in (bias_act, upfirdn2d):
        never_build(module)


def plugin_status(device: torch.device, build: bool = True) -> str:
    """The status line for a run on `device`; builds the plugins on CUDA if asked and prints any failure in full to stderr."""
    if device.type != "cuda":
        return f"official: reference ops (its custom ops are CUDA-only; this run is on {device.type})"
    if not build:
        use_reference_ops()
        return "official: reference ops (asked for: --official-reference-ops)"
    line, details = build_plugins()
    if details:
        print(details, file=sys.stderr)
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("official", help="a checkout of NVlabs/stylegan2-ada-pytorch")
    args = parser.parse_args()
    for note in import_official(args.official, build=True, option=""):
        print(f"build environment: {note}")
    line, details = build_plugins()
    if details:
        print(details, file=sys.stderr)
    print(line)
    sys.exit(0 if line == COMPILED else 1)


if __name__ == "__main__":
    main()
