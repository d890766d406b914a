"""Loading never runs code from a file: pickles naming anything off the allow-list are refused."""

from __future__ import annotations

import io
import os
import pickle
import struct
import subprocess
from pathlib import Path

import pytest
import torch

from stylegan2.io import UnsafeCheckpointError, load_checkpoint


class _Call:
    """Pickles as a call of `func(*args)`: what a malicious pickle does on a normal unpickler."""

    def __init__(self, func, args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def os_system_protocol2(marker: Path) -> bytes:
    """{'G': os.system('touch marker')} written by hand with a protocol-2 GLOBAL opcode."""
    cmd = f"touch {marker}".encode()
    return b"\x80\x02}X\x01\x00\x00\x00Gcos\nsystem\nX" + struct.pack("<I", len(cmd)) + cmd + b"\x85Rs."


def builtins_eval_protocol4(marker: Path) -> bytes:
    """{'G': eval("open(marker, 'w')")} with a protocol-4 STACK_GLOBAL opcode."""
    return pickle.dumps({"G": _Call(eval, (f"open({str(marker)!r}, 'w').close()",))}, protocol=4)


def subprocess_popen_protocol3(marker: Path) -> bytes:
    """{'G': subprocess.Popen(['touch', marker])} with a protocol-3 GLOBAL opcode."""
    return pickle.dumps({"G": _Call(subprocess.Popen, (["touch", str(marker)],))}, protocol=3)


def payload_in_storage_bytes(marker: Path) -> bytes:
    """os.system hidden in the bytes of a `torch.storage._load_from_bytes` storage record."""
    inner = os_system_protocol2(marker)
    return pickle.dumps({"G": _Call(torch.storage._load_from_bytes, (inner,))}, protocol=4)


PAYLOADS = [
    (os_system_protocol2, "os.system"),
    (builtins_eval_protocol4, "builtins.eval"),
    (subprocess_popen_protocol3, "subprocess.Popen"),
    (payload_in_storage_bytes, "os.system"),
]


def test_payloads_run_code_on_a_plain_unpickler(tmp_path):
    """The refusal tests below mean something: unpickled normally, each payload creates its marker."""
    for make, _ in PAYLOADS[:3]:
        marker = tmp_path / f"{make.__name__}.marker"
        obj = pickle.loads(make(marker))
        if isinstance(obj["G"], subprocess.Popen):
            obj["G"].wait()
        assert marker.exists(), make.__name__


@pytest.mark.parametrize("make, global_name", PAYLOADS, ids=[p[0].__name__ for p in PAYLOADS])
def test_pickle_with_forbidden_global_is_refused_without_running_it(tmp_path, make, global_name):
    marker = tmp_path / "ran.marker"
    path = tmp_path / "evil.pkl"
    path.write_bytes(make(marker))
    with pytest.raises(UnsafeCheckpointError, match=rf"evil\.pkl: it references {global_name}\b"):
        load_checkpoint(path)
    assert not marker.exists()


def test_torch_zip_with_forbidden_global_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran.marker"
    path = tmp_path / "evil.pt"
    torch.save({"g_ema": {}, "x": _Call(os.system, (f"touch {marker}",))}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"evil\.pt: it references posix\.system"):
        load_checkpoint(path)
    assert not marker.exists()


def test_embedded_module_source_is_never_executed(tmp_path, official_path, official_expected, monkeypatch):
    """Replace every `module_src` placeholder with real code of the same length; loading must not run it."""
    placeholder = b"\x8c\x11# source omitted\n"
    code = b"open('PWNED','w')"
    assert len(code) == 17
    data = official_path.read_bytes()
    assert data.count(placeholder) >= 1  # memoized: written once, referenced by every module
    path = tmp_path / "with_source.pkl"
    path.write_bytes(data.replace(placeholder, b"\x8c\x11" + code))
    monkeypatch.chdir(tmp_path)

    ckpt = load_checkpoint(path)
    assert not (tmp_path / "PWNED").exists()
    with torch.no_grad():
        ws = ckpt.networks["G_ema"].mapping(official_expected["z"], None)
    assert torch.allclose(ws, official_expected["ws"], atol=1e-4)
    exec(compile(code, "module_src", "exec"))  # the same code, run on purpose, does create the marker
    assert (tmp_path / "PWNED").exists()


def test_unpickler_allows_only_harmless_names():
    from stylegan2.io.safe_pickle import NetworkPickleUnpickler

    for module, _name in NetworkPickleUnpickler.allowed:
        assert module in {"torch_utils.persistence", "dnnlib.util", "collections", "torch._utils", "torch.storage",
                          "numpy.core.multiarray", "numpy._core.multiarray", "numpy", "builtins", "__builtin__"}
    with pytest.raises(Exception, match="builtins.getattr"):
        NetworkPickleUnpickler(io.BytesIO(b"")).find_class("builtins", "getattr")
