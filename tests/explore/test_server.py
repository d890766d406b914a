"""The HTTP API: status codes, error messages as JSON, PNGs out, only the explorer's own files served."""

import io
import threading
import time

import numpy as np
import PIL.Image
import pytest

pytest.importorskip("flask", reason="the explorer's server needs Flask: pip install 'stylegan2[explore]'")

from stylegan2.explore import open_explorer  # noqa: E402
from stylegan2.explore.server import ASSETS, create_app, is_loopback  # noqa: E402


@pytest.fixture(scope="module")
def gan_explorer(gan_file):
    return open_explorer(gan_file, "cpu", top_k=3)


@pytest.fixture
def client(gan_explorer):
    return create_app(gan_explorer).test_client()


@pytest.fixture
def swap_client(swapae_file):
    return create_app(open_explorer(swapae_file, "cpu"), max_upload_mb=0.01).test_client()


def decode_png(data: bytes) -> np.ndarray:
    with PIL.Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return np.asarray(image)


def test_the_page_and_its_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b"/static/gan.js" in page.data
    for name in ASSETS:
        assert client.get(f"/static/{name}").status_code == 200
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/static/../server.py", "/static/..%2Fserver.py", "/static/%2e%2e/gan.py",
                                  "/static/server.py", "/etc/passwd", "/static//etc/passwd", "/api/nothing"])
def test_no_request_reaches_other_files(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "error" in response.get_json()


def test_render_returns_the_settings_png(client, gan_explorer):
    response = client.get("/api/render?seed=3&psi=0.6&d1=2")
    assert response.status_code == 200 and response.mimetype == "image/png"
    expected = gan_explorer.render(gan_explorer.parse({"seed": "3", "psi": "0.6", "d1": "2"}))
    np.testing.assert_array_equal(decode_png(response.data), expected)
    assert float(response.headers["X-Render-Ms"]) > 0
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("query, message", [
    ("", "seed: missing"),
    ("seed=-4", "seed: -4 is out of range; use 0..4294967295"),
    ("seed=1&psi=abc", "psi: 'abc' is not a number"),
    ("seed=1&noise=loud", "noise: 'loud' is not a noise mode"),
    ("seed=1&d7=1", "unknown parameter 'd7'"),
    ("seed=1&mix_seed=2&mix_styles=fine", "mix_styles fine selects no layers"),
    ("seed=1&mix_seed=2&mix_styles=0-99999999999999999999", "mix_styles: '0-99999999999999999999' holds 100000000000000000000 values"),
    ("seed=1&mix_seed=2&mix_styles=" + "9" * 5000, "mix_styles: cannot read '99999"),
])
def test_bad_parameters_get_400_with_the_message(client, query, message):
    for route in ("/api/render", "/api/image.png", "/api/w.npz", "/api/describe"):
        response = client.get(f"{route}?{query}")
        assert response.status_code == 400, route
        assert message in response.get_json()["error"], route


def test_renders_waiting_behind_a_render_are_superseded_by_the_newest(gan_explorer, monkeypatch):
    app = create_app(gan_explorer)
    started, release = threading.Event(), threading.Event()
    render = gan_explorer.render

    def slow_for_seed_0(settings):
        if settings.seed == 0:
            started.set()
            release.wait(10)
        return render(settings)

    monkeypatch.setattr(gan_explorer, "render", slow_for_seed_0)
    answers = {}

    def get(seed: int) -> None:
        response = app.test_client().get(f"/api/render?seed={seed}")
        answers[seed] = (response.status_code, response.get_json(silent=True))

    threads = [threading.Thread(target=get, args=(seed,)) for seed in (0, 1, 2)]
    threads[0].start()
    assert started.wait(10)
    for thread in threads[1:]:  # arrive in this order while seed 0 renders
        thread.start()
        time.sleep(0.1)
    release.set()
    for thread in threads:
        thread.join(10)
    assert answers[0][0] == 200 and answers[2][0] == 200
    assert answers[1] == (409, {"error": "superseded: a newer render request arrived while this one waited"})


def test_downloads_are_attachments(client, gan_explorer):
    png = client.get("/api/image.png?seed=12")
    assert png.headers["Content-Disposition"] == 'attachment; filename="seed0012.png"'
    np.testing.assert_array_equal(decode_png(png.data), gan_explorer.render(gan_explorer.parse({"seed": "12"})))
    w = client.get("/api/w.npz?seed=12&mix_seed=3&mix_styles=0-1")
    assert w.headers["Content-Disposition"] == 'attachment; filename="explore_w.npz"'
    with np.load(io.BytesIO(w.data), allow_pickle=False) as npz:
        assert npz["w"].shape == (1, 6, 16)


def test_info_and_describe_give_the_controls_and_the_command(client, gan_file):
    info = client.get("/api/info").get_json()
    assert info["kind"] == "gan" and len(info["directions"]) == 3 and info["noise_modes"] == ["const", "random", "none"]
    described = client.get("/api/describe?seed=5&psi=0.5").get_json()
    assert described["commands"] == [f"stylegan2 generate --network {gan_file} --seeds 5 --trunc 0.5"]
    assert [layer["seed"] for layer in described["layers"]] == [5] * 6


def test_other_hosts_are_refused_unless_served_to_the_network(gan_explorer):
    local = create_app(gan_explorer).test_client()
    assert local.get("/api/info", headers={"Host": "localhost:8000"}).status_code == 200
    assert local.get("/api/info", headers={"Host": "[::1]:8000"}).status_code == 200
    refused = local.get("/api/info", headers={"Host": "evil.example:8000"})
    assert refused.status_code == 403 and "only answers on this machine" in refused.get_json()["error"]
    shared = create_app(gan_explorer, local_only=False).test_client()
    assert shared.get("/api/info", headers={"Host": "studio.lan:8000"}).status_code == 200
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")


def test_only_get_is_allowed_on_renders(client):
    assert client.post("/api/render?seed=1").status_code == 405


def test_swapae_upload_render_and_its_errors(swap_client, png_file):
    assert swap_client.get("/").data.count(b"/static/swapae.js") == 1
    empty = swap_client.get("/api/render?structure=0&texture=0")
    assert empty.status_code == 400 and "no images yet" in empty.get_json()["error"]
    for seed in (1, 2):
        added = swap_client.post("/api/swapae/upload", data={"image": (io.BytesIO(png_file(seed=seed)), f"in{seed}.png")})
        assert added.status_code == 200 and added.get_json() == {"id": seed - 1, "name": f"in{seed}.png"}
    swapped = swap_client.get("/api/render?structure=0&texture=1&alpha=0.5")
    assert swapped.status_code == 200 and decode_png(swapped.data).shape == (16, 16, 3)
    assert decode_png(swap_client.get("/api/swapae/image/1").data).shape == (16, 16, 3)
    assert swap_client.get("/api/swapae/image/2").status_code == 400
    bad = swap_client.post("/api/swapae/upload", data={"image": (io.BytesIO(b"not an image"), "x.png")})
    assert bad.status_code == 400 and "upload 'x.png': cannot decode as an image" in bad.get_json()["error"]
    missing = swap_client.post("/api/swapae/upload", data={})
    assert missing.status_code == 400 and "multipart form field 'image'" in missing.get_json()["error"]
    big = swap_client.post("/api/swapae/upload", data={"image": (io.BytesIO(png_file(256, 256)), "big.png")})
    assert big.status_code == 413 and "upload too large: at most 0.01 MB" in big.get_json()["error"]
    assert swap_client.get("/api/describe?seed=1").status_code == 400  # GAN routes on a SwapAE


def test_gan_routes_refuse_uploads(client, png_file):
    response = client.post("/api/swapae/upload", data={"image": (io.BytesIO(png_file()), "a.png")})
    assert response.status_code == 400 and "takes no uploads" in response.get_json()["error"]


def test_empty_image_ids_are_missing_not_image_0(swap_client, png_file):
    swap_client.post("/api/swapae/upload", data={"image": (io.BytesIO(png_file()), "a.png")})
    response = swap_client.get("/api/render?structure=&texture=0")
    assert response.status_code == 400 and "structure: missing" in response.get_json()["error"]
