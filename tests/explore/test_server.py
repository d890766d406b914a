"""The HTTP API: status codes, error messages as JSON, PNGs out, only the explorer's own files served."""

import gc
import io
import socket
import threading
import time
import warnings

import numpy as np
import PIL.Image
import pytest

pytest.importorskip("flask", reason="the explorer's server needs Flask: pip install \"stylegan2[explore]\"")

from werkzeug.datastructures import FileStorage  # noqa: E402
from werkzeug.test import encode_multipart  # noqa: E402

from stylegan2.explore import open_explorer  # noqa: E402
from stylegan2.explore.server import ASSETS, create_app, is_loopback, machine_names  # noqa: E402


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
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200 and asset.headers["Content-Type"] == ASSETS[name]  # the charset said once
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
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


@pytest.mark.parametrize("query, message", [
    ("seed=1", "label: missing; this network was trained on label vectors, give 3 numbers separated by commas"),
    ("seed=1&label=1,2", "label: gives 2 values, but this network's labels have 3 (c_dim)"),
    ("seed=1&label=1,a,2", "label: cannot read '1,a,2'"),
    ("seed=1&label=1,inf,2", "label: '1,inf,2': holds NaN or infinite values"),
    ("seed=1&class=0", "class: this network was trained on label vectors, not classes; give label"),
])
def test_a_bad_label_vector_gets_400_with_the_message(vector_gan_file, query, message):
    client = create_app(open_explorer(vector_gan_file, "cpu", top_k=1)).test_client()
    for route in ("/api/render", "/api/image.png", "/api/w.npz", "/api/describe"):
        response = client.get(f"{route}?{query}")
        assert response.status_code == 400, route
        assert response.get_json()["error"].startswith(message), route
    assert client.get("/api/render?seed=1&label=1,0,-2.5").status_code == 200


def hold_seed_0(gan_explorer, monkeypatch) -> tuple[threading.Event, threading.Event]:
    """Make rendering seed 0 wait for `release`; `started` is set when it begins."""
    started, release = threading.Event(), threading.Event()
    render = gan_explorer.render

    def slow_for_seed_0(settings):
        if settings.seed == 0:
            started.set()
            release.wait(10)
        return render(settings)

    monkeypatch.setattr(gan_explorer, "render", slow_for_seed_0)
    return started, release


def render_in_turn(app, queries: list[str], started: threading.Event, release: threading.Event) -> list[tuple]:
    """GET /api/render?QUERY for each query, the later ones arriving in order while the first renders;
    each answer's (status, JSON or None)."""
    answers: list[tuple] = [()] * len(queries)

    def get(n: int) -> None:
        response = app.test_client().get(f"/api/render?{queries[n]}")
        answers[n] = (response.status_code, response.get_json(silent=True))

    threads = [threading.Thread(target=get, args=(n,)) for n in range(len(queries))]
    threads[0].start()
    assert started.wait(10)
    for thread in threads[1:]:
        thread.start()
        time.sleep(0.1)
    release.set()
    for thread in threads:
        thread.join(10)
    return answers


def test_a_clients_renders_waiting_behind_a_render_are_superseded_by_its_newest(gan_explorer, monkeypatch):
    started, release = hold_seed_0(gan_explorer, monkeypatch)
    answers = render_in_turn(create_app(gan_explorer), ["seed=0&client=a", "seed=1&client=a", "seed=2&client=a"],
                             started, release)
    assert answers[0][0] == 200 and answers[2][0] == 200
    assert answers[1] == (409, {"error": "superseded: a newer render request from the same client arrived while this "
                                         "one waited"})


def test_another_clients_render_never_supersedes_a_waiting_one(gan_explorer, monkeypatch):
    """Three tabs: tab a's waiting request still renders although tabs b and c sent theirs after it."""
    started, release = hold_seed_0(gan_explorer, monkeypatch)
    queries = ["seed=0&client=c", "seed=1&client=a", "seed=2&client=b", "seed=3&client=c"]
    answers = render_in_turn(create_app(gan_explorer), queries, started, release)
    assert [status for status, _ in answers] == [200, 200, 200, 200]


def test_a_client_id_is_kept_short(client):
    response = client.get("/api/render?seed=1&client=" + "x" * 65)
    assert response.status_code == 400
    assert response.get_json() == {"error": "client: 65 characters long; a client id has at most 64"}


def test_downloads_are_attachments(client, gan_explorer):
    png = client.get("/api/image.png?seed=12")
    assert png.headers["Content-Disposition"] == 'attachment; filename="seed0012.png"'
    np.testing.assert_array_equal(decode_png(png.data), gan_explorer.render(gan_explorer.parse({"seed": "12"})))
    w = client.get("/api/w.npz?seed=12&mix_seed=3&mix_styles=0-1")
    name = gan_explorer.w_file_name(gan_explorer.parse({"seed": "12", "mix_seed": "3", "mix_styles": "0-1"}))
    assert w.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    with np.load(io.BytesIO(w.data), allow_pickle=False) as npz:
        assert npz["w"].shape == (1, 6, 16)


def test_info_and_describe_give_the_controls_and_the_command(client, gan_file):
    info = client.get("/api/info").get_json()
    assert info["kind"] == "gan" and len(info["directions"]) == 3 and info["noise_modes"] == ["const", "random", "none"]
    described = client.get("/api/describe?seed=5&psi=0.5").get_json()
    assert described["commands"] == [f"stylegan2 generate --network {gan_file} --seeds 5 --trunc 0.5"]
    assert [layer["seed"] for layer in described["layers"]] == [5] * 6


def test_only_addresses_localhost_and_this_machines_names_are_answered(gan_explorer):
    local = create_app(gan_explorer).test_client()
    for host in ("localhost:8000", "[::1]:8000", "127.0.0.1:8000", "192.168.1.5:8000", "app.localhost"):
        assert local.get("/api/info", headers={"Host": host}).status_code == 200, host
    refused = local.get("/api/info", headers={"Host": "evil.example:8000"})
    assert refused.status_code == 403
    assert refused.get_json()["error"] == ("host 'evil.example:8000' refused: the explorer answers only to IP addresses, "
                                           "localhost; if 'evil.example' names this machine, start it with "
                                           "--allow-host evil.example")
    shared = create_app(gan_explorer, host_names=["Studio.lan", "0.0.0.0", "localhost"]).test_client()
    assert shared.get("/api/info", headers={"Host": "studio.lan:8000"}).status_code == 200
    rebound = shared.get("/api/info", headers={"Host": "evil.example"})  # DNS rebinding, on any --host
    assert rebound.status_code == 403 and "answers only to IP addresses, localhost, studio.lan;" in rebound.get_json()["error"]
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")


def test_a_non_loopback_host_answers_to_the_machines_names_and_allowed_ones(monkeypatch):
    monkeypatch.setattr(socket, "gethostname", lambda: "studio")
    monkeypatch.setattr(socket, "getfqdn", lambda: "studio.lan")
    assert machine_names("0.0.0.0", ["photos.home"]) == {"0.0.0.0", "studio", "studio.lan", "photos.home"}
    assert machine_names("127.0.0.1", ["photos.home"]) == {"photos.home"}


def test_uploads_posted_by_another_sites_page_are_refused(swap_client, png_file):
    def post(origin: str):
        return swap_client.post("/api/swapae/upload", data={"image": (io.BytesIO(png_file()), "a.png")},
                                headers={"Origin": origin})

    refused = post("http://evil.example")
    assert refused.status_code == 403 and "upload from the page of 'http://evil.example' refused" in refused.get_json()["error"]
    assert post("http://localhost").status_code == 200  # the test client's own host


def test_a_repeated_parameter_is_refused_by_name(client):
    response = client.get("/api/render?seed=5&seed=6")
    assert response.status_code == 400
    assert response.get_json()["error"] == "seed: given 2 times; give each parameter once"


def test_an_overlong_value_is_answered_briefly(client):
    response = client.get("/api/render?seed=" + "9" * 60000)
    assert response.status_code == 400 and len(response.data) < 200
    assert response.get_json()["error"].startswith("seed: 9999") and "is out of range" in response.get_json()["error"]


def test_only_get_is_allowed_on_renders(client):
    assert client.post("/api/render?seed=1").status_code == 405


def test_swapae_upload_render_and_its_errors(swap_client, png_file):
    assert swap_client.get("/").data.count(b"/static/swapae.js") == 1
    empty = swap_client.get("/api/render?structure=0&texture=0")
    assert empty.status_code == 400 and "no images yet" in empty.get_json()["error"]
    for seed in (1, 2):
        added = swap_client.post("/api/swapae/upload", data={"image": (io.BytesIO(png_file(seed=seed)), f"in{seed}.png")})
        assert added.status_code == 200 and added.get_json() == {"id": seed - 1, "name": f"in{seed}.png", "note": ""}
    swapped = swap_client.get("/api/render?structure=0&texture=1&alpha=0.5")
    assert swapped.status_code == 200 and decode_png(swapped.data).shape == (16, 16, 3)
    assert decode_png(swap_client.get("/api/swapae/image/1").data).shape == (16, 16, 3)
    assert swap_client.get("/api/swapae/image/2").status_code == 400
    bad = swap_client.post("/api/swapae/upload", data={"image": (io.BytesIO(b"not an image"), "x.png")})
    assert bad.status_code == 400 and "upload 'x.png': cannot decode as an image" in bad.get_json()["error"]
    missing = swap_client.post("/api/swapae/upload", data={})
    assert missing.status_code == 400 and "upload: no field 'image'; send the image as the multipart file field 'image'" \
        in missing.get_json()["error"]
    text = swap_client.post("/api/swapae/upload", data={"image": "pixels"})
    assert text.status_code == 400 and text.get_json()["error"].startswith("upload: as a text field, not a file; send the "
                                                                           "image as the multipart file field 'image'")
    big = swap_client.post("/api/swapae/upload", data={"image": (io.BytesIO(png_file(256, 256)), "big.png")})
    assert big.status_code == 413 and "upload too large: at most 0.01 MB" in big.get_json()["error"]
    for route in ("/api/describe?seed=1", "/api/w.npz?seed=1"):  # GAN settings and routes on a SwapAE
        assert swap_client.get(route).status_code == 400


def test_a_swap_download_is_named_after_its_images_and_described_with_its_command(swap_client, png_file, swapae_file):
    for name, seed in (("in1.png", 1), ("wide.png", 2)):
        swap_client.post("/api/swapae/upload", data={"image": (io.BytesIO(png_file(20 * seed, 20, seed=seed)), name)})
    png = swap_client.get("/api/image.png?structure=0&texture=1&alpha=0.5")
    assert png.headers["Content-Disposition"] == 'attachment; filename="swap-in1-wide-a0.5.png"'
    described = swap_client.get("/api/describe?structure=0&texture=1&alpha=0.5").get_json()
    assert described["commands"] == [f"stylegan2 swapae swap --network {swapae_file} --structure in1.png "
                                     "--texture wide.png --alpha 0.5"]
    assert described["notes"] == ["wide.png: 40x20 image center-cropped to 20x20"]
    assert described["hint"].startswith("in1.png and wide.png were uploaded: give the path of your copy.")


def test_an_upload_that_is_cropped_or_enlarged_says_so(swap_client, png_file):
    added = swap_client.post("/api/swapae/upload", data={"image": (io.BytesIO(png_file(400, 2)), "strip.png")})
    assert added.get_json()["note"] == "400x2 image center-cropped to 2x2 and enlarged to the network's 16x16"


def test_a_chunked_upload_is_refused_before_it_is_read(swap_client, png_file):
    """Werkzeug drops, unclosed, the temporary file of a chunked upload that --max-upload-mb stops: a warning
    in the server's console. Browsers and curl -F send a Content-Length."""
    boundary, body = encode_multipart({"image": FileStorage(io.BytesIO(png_file(256, 256)), "big.png")})  # > 0.01 MB
    gc.collect()  # what earlier tests left behind
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = swap_client.post("/api/swapae/upload", input_stream=io.BytesIO(body), headers={
            "Transfer-Encoding": "chunked", "Content-Type": f"multipart/form-data; boundary={boundary}"})
        gc.collect()
    assert response.status_code == 411 and "upload: the request has no Content-Length" in response.get_json()["error"]
    assert [str(warning.message) for warning in caught] == []


def test_gan_routes_refuse_uploads(client, png_file):
    response = client.post("/api/swapae/upload", data={"image": (io.BytesIO(png_file()), "a.png")})
    assert response.status_code == 400 and "takes no uploads" in response.get_json()["error"]


def test_empty_image_ids_are_missing_not_image_0(swap_client, png_file):
    swap_client.post("/api/swapae/upload", data={"image": (io.BytesIO(png_file()), "a.png")})
    response = swap_client.get("/api/render?structure=&texture=0")
    assert response.status_code == 400 and "structure: missing" in response.get_json()["error"]


def test_an_address_naming_a_replaced_image_gets_a_clear_400_and_info_lists_ids_with_names(swapae_file, png_file):
    """Ids are never reused: past 64 images an upload takes a new id, and the replaced one is refused by name."""
    from stylegan2.explore.swap import MAX_IMAGES

    explorer = open_explorer(swapae_file, "cpu")
    for i in range(MAX_IMAGES):
        explorer.add(f"u{i}.png", png_file())
    client = create_app(explorer).test_client()
    added = client.post("/api/swapae/upload", data={"image": (io.BytesIO(png_file(seed=1)), "new.png")}).get_json()
    assert added["id"] == MAX_IMAGES
    info = client.get("/api/info").get_json()
    assert info["images"][0] == {"id": 1, "name": "u1.png"} and info["images"][-1] == {"id": MAX_IMAGES, "name": "new.png"}
    assert info["issued"] == MAX_IMAGES + 1
    for route in ("/api/render?structure=0&texture=1", "/api/describe?structure=0&texture=1", "/api/swapae/image/0"):
        response = client.get(route)
        assert response.status_code == 400 and "no image 0 here (a newer upload replaced it" in response.get_json()["error"]
    assert client.get(f"/api/render?structure={MAX_IMAGES}&texture=1").status_code == 200
