"""--resume URL or NVIDIA network name: the run downloads the file when it needs it (qa-auditor M3), through the Python
API as through the command."""

import http.server
import json
import threading

import pytest

from stylegan2.training.config import resolve_options
from stylegan2.training.loop import train
from stylegan2.training.session import TrainingError
from stylegan2.utils.download import OFFLINE_VARIABLE

TINY = dict(clusters=0, cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="noaug", tick=0.008, snap=1,
            kimg=0.008)


def options(tmp_path, **overrides):
    return resolve_options("builtin:shapes?n=32", "cpu", 16, 1, {**TINY, "outdir": str(tmp_path / "runs"), **overrides})


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A local HTTP server of the folder tmp_path/served; downloads allowed, into tmp_path/cache."""
    monkeypatch.delenv(OFFLINE_VARIABLE)
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "served"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_train_fetches_a_resume_url_into_the_cache_and_starts_from_it(tmp_path, served, one_thread):
    folder, url = served
    first = train(options(tmp_path), device="cpu", log=lambda line: None)
    (folder / "net.safetensors").write_bytes((first / "network-snapshot-000000-008.safetensors").read_bytes())
    lines = []
    second = train(options(tmp_path, resume=f"{url}/net.safetensors", kimg=0.016), device="cpu", log=lines.append)
    fetched = json.loads((second / "training_options.json").read_text())["resume"]
    assert fetched.startswith(str(tmp_path / "cache" / "networks")) and fetched.endswith("-net.safetensors"), fetched
    assert any(line.startswith(f"Resuming from {fetched}") for line in lines), lines


def test_a_resume_url_that_cannot_be_downloaded_is_a_training_error(tmp_path, one_thread):
    with pytest.raises(TrainingError, match=r"^--resume: .*example\.invalid.*, or pass the file's path$"):
        train(options(tmp_path, resume="https://example.invalid/net.pkl"), device="cpu", log=lambda line: None)
