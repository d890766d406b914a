"""Downloads into the cache dir: whole or not at all, one-line errors, and never in the tests' offline mode."""

import http.server
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.io import load_network, pretrained, save_network
from stylegan2.metrics.detectors import find_metric_file
from stylegan2.models import Generator
from stylegan2.utils.download import OFFLINE_VARIABLE, DownloadError, download

PAYLOAD = bytes(range(256)) * 4000  # about 1 MB: several reads


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves FILES, and at /short.bin a response cut off after 1,000 of its announced bytes; 404 elsewhere."""

    FILES = {"/good.bin": PAYLOAD}

    def do_GET(self) -> None:  # noqa: N802 -- http.server's name
        body = self.FILES.get(self.path, PAYLOAD if self.path == "/short.bin" else None)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if self.path != "/short.bin" else body[:1000])

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(monkeypatch):
    """A local HTTP server; downloads allowed for these tests only."""
    monkeypatch.delenv(OFFLINE_VARIABLE)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_download_lands_whole_once(server, tmp_path: Path):
    dest = tmp_path / "cache" / "good.bin"
    assert download(f"{server}/good.bin", dest, progress=False) == dest
    assert dest.read_bytes() == PAYLOAD
    assert sorted(p.name for p in dest.parent.iterdir()) == ["good.bin"]  # no temporary left
    dest.write_bytes(b"mine")
    assert download(f"{server}/good.bin", dest, progress=False).read_bytes() == b"mine"  # present: not fetched again


@pytest.mark.parametrize("name,problem", [("missing.bin", "could not download {url} (Not Found)"),
                                          ("short.bin", "{url}: the connection ended after 1,000 of 1,024,000 bytes; try again, or")])
def test_a_failed_download_is_one_line_and_leaves_nothing(server, tmp_path: Path, name, problem):
    url = f"{server}/{name}"
    with pytest.raises(DownloadError) as err:
        download(url, tmp_path / name, progress=False)
    assert str(err.value) == problem.format(url=url) + ("; " if name == "missing.bin" else " ") + f"download {url} into {tmp_path} by hand"
    assert list(tmp_path.iterdir()) == []


def test_offline_mode_refuses_to_download(tmp_path: Path):
    with pytest.raises(DownloadError, match=rf"x\.bin is not in .* and \${OFFLINE_VARIABLE} forbids downloading it; "
                                            r"download http://example\.invalid/x\.bin into .* by hand"):
        download("http://example.invalid/x.bin", tmp_path / "x.bin")


def test_nvidia_network_names_download_into_the_cache(server, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(pretrained, "NVIDIA_PRETRAINED_URL", f"{server}/sub/")
    monkeypatch.setitem(Handler.FILES, "/sub/transfer-learning-source-nets/ffhq-res256-mirror-paper256-noaug.pkl", PAYLOAD)
    path = pretrained.network_file("ffhq256", cache_dir=tmp_path)
    assert path == tmp_path / "ffhq-res256-mirror-paper256-noaug.pkl" and path.read_bytes() == PAYLOAD


def test_a_network_name_is_a_local_file_first_and_a_missing_docs_file_names_the_download(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ffhq").write_bytes(b"mine")
    assert pretrained.network_file("ffhq") == Path("ffhq")
    with pytest.raises(FileNotFoundError, match=r"^ffhq\.pkl: no such network file \(--network\); NVIDIA's network of that "
                                                r"name: --network ffhq \(downloaded once\)$"):
        pretrained.existing_network_file("ffhq.pkl")
    with pytest.raises(FileNotFoundError, match=r"^mine\.pkl: no such network file \(--network\)$"):
        pretrained.existing_network_file("mine.pkl")


def test_a_missing_detector_is_downloaded_under_its_own_name(server, tmp_path: Path):
    path = find_metric_file(None, ("vgg16.safetensors", "good.bin"), "help {cache_dir}", tmp_path, f"{server}/good.bin")
    assert path == tmp_path / "good.bin" and path.read_bytes() == PAYLOAD
    with pytest.raises(FileNotFoundError, match=r"missing\.bin is not in .* \(nor a, b\) and its download failed \(Not Found\); help "):
        find_metric_file(None, ("a", "b"), "help {cache_dir}", tmp_path / "other", f"{server}/missing.bin")


def test_network_urls_work_in_python_and_on_the_command_line(server, tmp_path: Path, monkeypatch, tiny_network_bytes):
    monkeypatch.setitem(Handler.FILES, "/runs/network-snapshot-000004.safetensors", tiny_network_bytes)
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "cache"))
    url = f"{server}/runs/network-snapshot-000004.safetensors"
    assert set(load_network(url)) == {"G_ema"}
    (cached,) = (tmp_path / "cache" / "networks").iterdir()
    assert cached.name.endswith("-network-snapshot-000004.safetensors")
    result = CliRunner().invoke(main, ["generate", "--network", url, "--seeds", "0-1", "--outdir", str(tmp_path / "out"),
                                       "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "out").glob("*.png"))) == 2
    result = CliRunner().invoke(main, ["generate", "--network", f"{server}/gone.pkl", "--seeds", "0", "--outdir", str(tmp_path)])
    assert result.exit_code == 1 and result.output.startswith("Error: could not download"), result.output


def test_nvidia_network_names_work_in_every_tool_and_in_python(server, tmp_path: Path, monkeypatch, tiny_network_bytes):
    """`--network ffhq` as `--resume ffhq256`: the docs' examples run once the name is given (the file a stand-in)."""
    monkeypatch.setattr(pretrained, "NVIDIA_PRETRAINED_URL", f"{server}/nv/")
    monkeypatch.setitem(Handler.FILES, "/nv/metfaces.pkl", tiny_network_bytes)
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "metfaces").mkdir()  # a dataset folder of that name does not hide the network (./metfaces names it)
    assert set(load_network("metfaces")) == {"G_ema"} and (tmp_path / "cache" / "metfaces.pkl").is_file()
    for command in (["generate", "--seeds", "0"], ["mix", "--rows", "1", "--cols", "2"], ["directions", "--strips", "0"]):
        result = CliRunner().invoke(main, [*command, "--network", "metfaces", "--device", "cpu"])
        assert result.exit_code == 0, result.output


@pytest.fixture
def tiny_network_bytes(tmp_path: Path) -> bytes:
    G = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3, mapping_kwargs={"num_layers": 1},
                  synthesis_kwargs={"channel_base": 32, "channel_max": 8})
    return save_network(tmp_path / "g.safetensors", {"G_ema": G}).read_bytes()


def test_the_cache_follows_stylegan2_cache_then_xdg_cache_home(tmp_path: Path, monkeypatch):
    from stylegan2.utils.download import default_cache_dir

    monkeypatch.delenv("STYLEGAN2_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == Path.home() / ".cache" / "stylegan2"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "stylegan2"
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
