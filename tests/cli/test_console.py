"""The console entry point: `import stylegan2` does not load torch, and a Ctrl-C while the command loads exits quietly."""

import importlib.abc
import os
import subprocess
import sys

import pytest

import stylegan2
from stylegan2 import console


def test_import_stylegan2_leaves_torch_for_first_use():
    code = ("import sys, stylegan2; before = 'torch' in sys.modules; G = stylegan2.models.Generator; "
            "print(before, 'torch' in sys.modules, stylegan2.load_network.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[:2] == ["False", "True"] and out[2].startswith("stylegan2.io")
    with pytest.raises(AttributeError, match="module 'stylegan2' has no attribute 'nothere'"):
        import stylegan2

        stylegan2.nothere  # noqa: B018
    assert getattr(stylegan2, "__main__", None) is None  # probing attributes must not run the command line and exit


class InterruptLoading(importlib.abc.MetaPathFinder):
    """Ctrl-C arriving while Python imports the command line (torch takes seconds to load)."""

    def find_spec(self, name, path, target=None):
        if name == "stylegan2.cli":
            raise KeyboardInterrupt
        return None


def test_ctrl_c_while_the_command_loads_is_one_word_and_status_130(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "stylegan2.cli", raising=False)
    monkeypatch.setattr(sys, "meta_path", [InterruptLoading(), *sys.meta_path])
    with pytest.raises(SystemExit) as stop:
        console.main()
    assert stop.value.code == 130 and capsys.readouterr().err == "Aborted!\n"


def test_python_m_stylegan2_runs_the_command():
    result = subprocess.run([sys.executable, "-m", "stylegan2", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and f"stylegan2, version {stylegan2.__version__}" in result.stdout, result


def test_a_path_the_output_encoding_lacks_is_escaped_not_an_error(tmp_path):
    """Windows writes redirected output in its code page: a user's path it cannot encode stopped commands."""
    outdir = tmp_path / "Łódź"
    result = subprocess.run([sys.executable, "-m", "stylegan2", "dataset", "--source", "builtin:shapes?n=2",
                             "--dest", str(outdir / "s.zip"), "--resolution", "8"],
                            capture_output=True, env={**os.environ, "PYTHONIOENCODING": "cp1252"})
    assert result.returncode == 0, result.stderr.decode("cp1252", "replace")
    assert b"\\u0141\xf3d\\u017a" in result.stdout and (outdir / "s.zip").is_file()


@pytest.mark.parametrize("code", [0, None, 1, 130])
def test_a_command_that_ended_ignores_signals_while_it_exits(monkeypatch, code):
    """A scheduler ending the job just after a run finished (its log says Done.) must not turn it into a failure, nor
    a second Ctrl-C after a failure replace its status or print a traceback from an exit handler."""
    import signal

    import stylegan2.cli

    def command() -> None:
        raise SystemExit(code)

    monkeypatch.setattr(stylegan2.cli, "main", command)
    signums = [signal.SIGINT, signal.SIGTERM, *([signal.SIGUSR1] if hasattr(signal, "SIGUSR1") else [])]
    before = {signum: signal.getsignal(signum) for signum in signums}
    try:
        with pytest.raises(SystemExit) as end:
            console.main()
        assert end.value.code == code
        assert all(signal.getsignal(signum) == signal.SIG_IGN for signum in signums)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


@pytest.mark.parametrize("command, function", [("generate", "stylegan2.cli.tools.generate_images"),
                                               ("dataset", "stylegan2.cli.dataset.convert_dataset"),
                                               ("metrics", "stylegan2.cli.metrics.calc_metrics")])
def test_ctrl_c_while_a_command_works_is_one_word_and_status_130(monkeypatch, tmp_path, command, function):
    """click's own handling gave status 1 once the command had loaded; train gave 130."""
    from click.testing import CliRunner

    from stylegan2.cli import main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(function, interrupted)
    args = {"generate": ["--network", str(tmp_path / "n.pkl"), "--seeds", "0"],
            "dataset": ["--source", "builtin:shapes", "--dest", str(tmp_path / "d.zip")],
            "metrics": ["--network", str(tmp_path / "n.pkl"), "--data", "builtin:shapes"]}[command]
    (tmp_path / "n.pkl").write_bytes(b"")
    result = CliRunner().invoke(main, [command, *args])
    assert result.exit_code == 130 and result.output == "Aborted!\n", result.output
