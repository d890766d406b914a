"""The explorer's HTTP server (Flask): the page, its own assets, and an API that renders PNGs from checked parameters.

Nothing a request sends is used as a path: assets are read from the package once, by fixed name.
"""

from __future__ import annotations

import errno
import io
import ipaddress
import math
import os
import socket
import threading
import time
from importlib import resources
from typing import Callable, Collection
from urllib.parse import urlsplit

import numpy as np

try:
    from flask import Flask, Response, jsonify, request
    from werkzeug.exceptions import HTTPException
    from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, get_sockaddr, make_server, select_address_family
except ModuleNotFoundError as err:  # the server is an extra: say which, for Python callers too
    raise ModuleNotFoundError(f"{err}: the explorer's server needs Flask; pip install \"stylegan2[explore]\"",
                              name=err.name) from err

from ..utils.image import to_pil
from . import DEFAULT_HOST, DEFAULT_PORT
from .coalesce import LatestOnly, Superseded
from .gan import GanExplorer
from .network import open_explorer
from .settings import SettingsError, shorten
from .swap import SwapExplorer
from .uploads import DEFAULT_MAX_UPLOAD_MB

ASSETS = {  # file name -> Content-Type (charset given: not appended again); the only files the server sends
    "gan.html": "text/html; charset=utf-8",
    "swapae.html": "text/html; charset=utf-8",
    "explore.css": "text/css; charset=utf-8",
    "common.js": "text/javascript; charset=utf-8",
    "gan.js": "text/javascript; charset=utf-8",
    "swapae.js": "text/javascript; charset=utf-8",
}
MAX_CLIENT_ID = 64  # characters of /api/render's client parameter (the page sends a random one per tab)
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; connect-src 'self' blob:; "
                               "style-src 'self'; script-src 'self'",
    "Referrer-Policy": "no-referrer",
}


def load_assets() -> dict[str, bytes]:
    """The page's files, read from the installed package."""
    folder = resources.files("stylegan2.explore") / "static"
    return {name: (folder / name).read_bytes() for name in ASSETS}


def png_bytes(image: np.ndarray) -> bytes:
    """uint8 [H, W, C] -> PNG file bytes (one channel as grayscale, four as RGBA)."""
    buffer = io.BytesIO()
    to_pil(image).save(buffer, format="PNG")
    return buffer.getvalue()


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or address) only accepts connections from this machine."""
    if host in LOOPBACK_NAMES:
        return True
    return is_ip_address(host) and ipaddress.ip_address(host.strip("[]")).is_loopback


def is_ip_address(host: str) -> bool:
    """Whether `host` is an IPv4 or IPv6 address (IPv6 with or without its URL brackets), not a name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def answers_to(host: str, names: Collection[str]) -> bool:
    """Whether the explorer answers a request whose Host header names `host` (lower case, no port): an IP address,
    localhost (or a name under .localhost), or one of `names`.

    A DNS-rebinding page reaches the server under the attacker's own domain name; the browser then sends that
    name as Host, so only names known to be this machine's pass. An IP address as Host means the page itself
    was loaded from the explorer.
    """
    host = host.rstrip(".")
    return is_ip_address(host) or host == "localhost" or host.endswith(".localhost") or host in names


def machine_names(host: str, allowed_hosts: Collection[str]) -> set[str]:
    """The names a request may use besides IP addresses and localhost: `allowed_hosts` (--allow-host), and when
    the explorer listens beyond this machine, the --host value and this machine's host name and FQDN."""
    names = set(allowed_hosts)
    if not is_loopback(host):
        names |= {host, socket.gethostname(), socket.getfqdn()}
    return names


def query_values() -> dict[str, str]:
    """The request's parameters, each given once: a repeated one is refused, not read as its first value."""
    for name, values in request.args.lists():
        if len(values) > 1:
            raise SettingsError(f"{shorten(name)}: given {len(values)} times; give each parameter once")
    return request.args.to_dict()


def create_app(explorer: GanExplorer | SwapExplorer, *, host_names: Collection[str] = (),
               max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB) -> Flask:
    """The Flask app serving `explorer`. A request whose Host is not an IP address, localhost or one of `host_names`
    is refused (DNS rebinding, see `answers_to`), and so is an upload posted by another site's page."""
    names = {name.lower().rstrip(".") for name in host_names}
    names = {name for name in names if not answers_to(name, ())}  # IP addresses and localhost pass anyway
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = int(max_upload_mb * 1024 * 1024)
    network_lock = threading.Lock()  # torch runs one request at a time; renders queue on LatestOnly first
    _add_guards(app, names, max_upload_mb)
    _add_page_routes(app, isinstance(explorer, GanExplorer))
    _add_render_routes(app, explorer, network_lock)
    _add_swapae_routes(app, explorer, network_lock)
    return app


def _error_response(status: int, message: str) -> Response:
    """A JSON `{"error": message}` with `status`: how every refusal reaches the page."""
    response = jsonify(error=message)
    response.status_code = status
    return response


def _png_response(work: Callable[[], np.ndarray], network_lock: threading.Lock) -> Response:
    """The PNG of the image `work` renders (one render at a time), with the render's time in X-Render-Ms."""
    start = time.perf_counter()
    with network_lock:
        image = work()
    response = Response(png_bytes(image), mimetype="image/png")
    response.headers["X-Render-Ms"] = f"{(time.perf_counter() - start) * 1000:.1f}"
    return response


def _add_guards(app: Flask, names: set[str], max_upload_mb: float) -> None:
    """What every request meets: the Host check, the security headers, and errors as one JSON line each."""
    @app.before_request
    def check_host() -> Response | None:
        host = urlsplit(f"//{request.host}").hostname or ""
        if not answers_to(host, names):
            return _error_response(403, f"host {shorten(request.host)!r} refused: the explorer answers only to IP "
                                       f"addresses, {', '.join(['localhost', *sorted(names)])}; if {shorten(host)!r} "
                                       f"names this machine, start it with --allow-host {shorten(host)}")
        return None

    @app.after_request
    def harden(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(ValueError)  # SettingsError, ToolError, DatasetError: a bad parameter or upload
    def bad_parameter(err: ValueError) -> Response:
        return _error_response(400, str(err))

    @app.errorhandler(Superseded)
    def superseded(_: Superseded) -> Response:
        return _error_response(409, "superseded: a newer render request from the same client arrived while this one waited")

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Response:
        messages = {404: "not found: the explorer serves only its page, its assets and /api/...",
                    413: f"upload too large: at most {max_upload_mb:g} MB (--max-upload-mb)"}
        return _error_response(err.code or 500, messages.get(err.code, err.description or err.name))


def _add_page_routes(app: Flask, is_gan: bool) -> None:
    """The page (the GAN's or the Swapping Autoencoder's) and its assets, read from the package once."""
    assets = load_assets()

    @app.get("/")
    def page() -> Response:
        return Response(assets["gan.html" if is_gan else "swapae.html"], content_type=ASSETS["gan.html"])

    @app.get("/static/<name>")
    def asset(name: str) -> Response:
        if name not in assets:
            return _error_response(404, f"no asset named {name!r}")
        response = Response(assets[name], content_type=ASSETS[name])
        response.headers["Cache-Control"] = "no-cache"
        return response


def _add_render_routes(app: Flask, explorer: GanExplorer | SwapExplorer, network_lock: threading.Lock) -> None:
    """The API both explorers answer: info, renders (the newest per client), downloads and the equivalent commands."""
    newest_only = LatestOnly()  # per client: the page sends client=ID, one per tab

    @app.get("/api/info")
    def info() -> Response:
        return jsonify(explorer.info())

    @app.get("/api/render")
    def render() -> Response:
        values = query_values()
        client = values.pop("client", "")
        if len(client) > MAX_CLIENT_ID:
            raise SettingsError(f"client: {len(client)} characters long; a client id has at most {MAX_CLIENT_ID}")
        settings = explorer.parse(values)
        return newest_only.run(lambda: _png_response(lambda: explorer.render(settings), network_lock), client)

    @app.get("/api/image.png")
    def download_image() -> Response:
        settings = explorer.parse(query_values())
        response = _png_response(lambda: explorer.render(settings), network_lock)
        response.headers["Content-Disposition"] = f'attachment; filename="{explorer.file_name(settings)}"'
        return response

    @app.get("/api/w.npz")
    def download_w() -> Response:
        if not isinstance(explorer, GanExplorer):
            raise SettingsError("this explorer holds a Swapping Autoencoder; the GAN controls do not apply")
        settings = explorer.parse(query_values())
        with network_lock:
            data = explorer.w_npz(settings)
        response = Response(data, mimetype="application/octet-stream")
        response.headers["Content-Disposition"] = f'attachment; filename="{explorer.w_file_name(settings)}"'
        return response

    @app.get("/api/describe")
    def describe() -> Response:
        return jsonify(explorer.describe(explorer.parse(query_values())))


def _add_swapae_routes(app: Flask, explorer: GanExplorer | SwapExplorer, network_lock: threading.Lock) -> None:
    """The Swapping Autoencoder's input images: the ones held, and uploads (refused from another site's page)."""
    @app.get("/api/swapae/image/<int:index>")
    def held_image(index: int) -> Response:
        if isinstance(explorer, GanExplorer):
            raise SettingsError("this explorer holds a GAN; it has no input images")
        return Response(png_bytes(explorer.image(index)), mimetype="image/png")

    @app.post("/api/swapae/upload")
    def upload() -> Response:
        if isinstance(explorer, GanExplorer):
            raise SettingsError("this explorer holds a GAN; it takes no uploads")
        origin = request.headers.get("Origin")  # a browser's; absent from curl's
        if origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
            return _error_response(403, f"upload from the page of {shorten(origin)!r} refused: upload from the "
                                       "explorer's own page")
        if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            # werkzeug drops a chunked upload's temporary file unclosed when --max-upload-mb stops it: a console warning
            return _error_response(411, "upload: the request has no Content-Length; send the file in one piece, "
                                       "as the page and curl -F image=@FILE do")
        file = request.files.get("image")
        if file is None:
            sent = "as a text field, not a file" if "image" in request.form else "no field 'image'"
            raise SettingsError(f"upload: {sent}; send the image as the multipart file field 'image' "
                                "(with a filename, as curl -F image=@FILE does)")
        data = file.read()
        with network_lock:
            return jsonify(explorer.upload(file.filename or "upload", data))


class QuietRequestHandler(WSGIRequestHandler):
    """No line per request (a slider drag sends dozens); errors are still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def check_listen_address(host: str, port: int) -> None:
    """Raise OSError naming --host/--port when the server could not listen there (werkzeug would print and exit)."""
    try:
        family = select_address_family(host, port)
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(get_sockaddr(host, int(port), family))
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise OSError(f"--port {port}: already in use on {host}; choose another --port (0 picks a free one)") from None
        raise OSError(f"--host {host}: cannot listen there ({err.strerror or err}); "
                      "use an address or name of this machine, e.g. 127.0.0.1") from None


def make_explorer_server(app: Flask, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> BaseWSGIServer:
    """A threaded HTTP server for `app`, bound but not yet serving; port 0 picks a free port (`server_port`)."""
    return make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)


def serve(app: Flask, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          announce: Callable[[str], None] = print) -> None:
    """Serve `app` until interrupted (Ctrl-C), announcing its URL; port 0 picks a free port."""
    check_listen_address(host, port)
    server = make_explorer_server(app, host, port)
    shown = f"[{host}]" if ":" in host else host
    announce(f"stylegan2 explore: open http://{shown}:{server.server_port}/  (Ctrl-C stops it)")
    try:
        server.serve_forever()  # werkzeug's returns at Ctrl-C: it catches the KeyboardInterrupt itself
    finally:
        server.server_close()
    raise KeyboardInterrupt  # nothing else stops it: the command ends as every other does at Ctrl-C (status 130)


def run_explorer(
    network: str | os.PathLike,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    device: str | None = None,
    directions: str | os.PathLike | None = None,
    layers: str | None = None,
    top_k: int | None = None,
    images: str | os.PathLike | None = None,
    projected_w: str | os.PathLike | None = None,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
    allow_hosts: Collection[str] = (),
    announce: Callable[[str], None] = print,
) -> None:
    """`stylegan2 explore`: open the network and serve its explorer at http://host:port/ until interrupted.

    The address is checked before the network is loaded, so a busy port fails at once, not after SeFa."""
    if not (math.isfinite(max_upload_mb) and max_upload_mb > 0):
        raise SettingsError(f"--max-upload-mb {max_upload_mb}: must be a finite number of MB, more than 0")
    check_listen_address(host, port)
    if not is_loopback(host):
        announce(f"note: --host {host} lets other machines on the network use this explorer")
    explorer = open_explorer(network, device, directions=directions, layers=layers, top_k=top_k, images=images,
                             projected_w=projected_w)
    app = create_app(explorer, host_names=machine_names(host, allow_hosts), max_upload_mb=max_upload_mb)
    serve(app, host, port, announce)
