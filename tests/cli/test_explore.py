"""`stylegan2 explore`: its options, the one-line hint when Flask is missing, and clear errors for bad input."""

import os
import select
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from stylegan2.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks run far faster on one thread


def test_help_lists_the_options():
    result = CliRunner().invoke(main, ["explore", "--help"])
    assert result.exit_code == 0
    for option in ("--network", "--host", "--port", "--device", "--directions", "--top-k", "--images", "--max-upload-mb",
                   "--allow-host"):
        assert option in result.output
    assert "[default: 127.0.0.1]" in result.output


def test_without_flask_the_command_says_what_to_install(gan_file, monkeypatch):
    monkeypatch.setitem(sys.modules, "flask", None)  # import flask -> ModuleNotFoundError
    monkeypatch.delitem(sys.modules, "stylegan2.explore.server", raising=False)
    result = CliRunner().invoke(main, ["explore", "--network", str(gan_file)])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: stylegan2 explore needs Flask: pip install \"stylegan2[explore]\""


def test_bad_inputs_are_one_line_errors(gan_file, tmp_path):
    pytest.importorskip("flask", reason="the explorer's server needs Flask: pip install \"stylegan2[explore]\"")
    result = CliRunner().invoke(main, ["explore", "--network", str(tmp_path / "missing.pkl")])
    assert result.exit_code == 1 and "missing.pkl: no such network file (--network)" in result.output
    result = CliRunner().invoke(main, ["explore", "--network", str(gan_file), "--device", "cpu", "--layers", "0-9"])
    assert result.exit_code == 1 and "--layers: 0-9 reaches 9, out of range" in result.output
    result = CliRunner().invoke(main, ["explore", "--network", str(gan_file), "--device", "cpu", "--layers", "0-99999999999999999999"])
    assert result.exit_code == 2 and "--layers: '0-99999999999999999999' holds 100000000000000000000 values" in result.output
    assert "Traceback" not in result.output


def test_an_address_it_cannot_listen_on_is_a_one_line_error_naming_the_option(gan_file):
    pytest.importorskip("flask", reason="the explorer's server needs Flask: pip install \"stylegan2[explore]\"")
    import socket

    result = CliRunner().invoke(main, ["explore", "--network", str(gan_file), "--device", "cpu", "--host", "999.1.1.1"])
    assert result.exit_code == 1 and "Error: --host 999.1.1.1: cannot listen there" in result.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["explore", "--network", str(gan_file), "--device", "cpu", "--port", str(port)])
    assert result.exit_code == 1 and f"Error: --port {port}: already in use" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_a_non_finite_upload_limit_is_refused_when_the_line_is_read(gan_file, value):
    result = CliRunner().invoke(main, ["explore", "--network", str(gan_file), "--max-upload-mb", value])
    assert result.exit_code == 2 and f"--max-upload-mb': {value!r} is not a finite number" in result.output
    assert "Traceback" not in result.output


def test_the_address_is_checked_before_the_network_is_loaded(gan_file, monkeypatch):
    pytest.importorskip("flask", reason="the explorer's server needs Flask: pip install \"stylegan2[explore]\"")
    import stylegan2.explore.server as server

    def never(*args, **kwargs):
        raise AssertionError("the network was loaded")

    monkeypatch.setattr(server, "open_explorer", never)
    result = CliRunner().invoke(main, ["explore", "--network", str(gan_file), "--host", "999.1.1.1"])
    assert result.exit_code == 1 and result.output.startswith("Error: --host 999.1.1.1: cannot listen there")
    assert "note: --host" not in result.output  # the note comes once the address is known to work
    result = CliRunner().invoke(main, ["explore", "--network", str(gan_file), "--max-upload-mb", "0"])
    assert result.exit_code == 2 and "Invalid value for '--max-upload-mb': 0.0 is not in the range x>0" in result.output
    with pytest.raises(server.SettingsError, match=r"^--max-upload-mb 0: must be a finite number of MB, more than 0$"):
        server.run_explorer(gan_file, max_upload_mb=0)  # from Python, before the network is loaded


def test_ctrl_c_stops_the_server_and_ends_with_status_130_as_every_command(gan_file):
    """werkzeug's server catches the KeyboardInterrupt itself: the command exited 0 (retest N2)."""
    pytest.importorskip("flask", reason="the explorer's server needs Flask: pip install \"stylegan2[explore]\"")
    process = subprocess.Popen([sys.executable, "-m", "stylegan2", "explore", "--network", str(gan_file), "--port", "0",
                                "--device", "cpu", "--top-k", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"})
    try:
        ready, _, _ = select.select([process.stdout], [], [], 120)
        assert ready and "http://" in process.stdout.readline()
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130 and output.endswith("Aborted!\n"), output
