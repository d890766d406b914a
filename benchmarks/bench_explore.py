"""Time from input to image in `stylegan2 explore` at 32, 64 and 256 px (random config-F networks).

    python benchmarks/bench_explore.py                       # HTTP, and the browser when Playwright + Chromium are here
    python benchmarks/bench_explore.py --resolutions 32 --repeats 20 --threads 2

For each resolution a generator with the official config-F channel table is saved, opened as
`stylegan2 explore` opens it (SeFa on load) and served on a free local port. Three timings:
- render: the server's rendering and PNG encoding alone;
- http: GET /api/render (new seed, psi 0.7, one direction) until the PNG has arrived;
- browser: a psi slider move on the page until the new image is decoded (headless Chromium);
- burst: ten slider moves 20 ms apart (a drag) until the last move's image is decoded, which
  the coalescing keeps near one render instead of ten.
Each figure is the median of --repeats.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import torch
from bench_train import check_at_least_one, check_device, parse_resolutions

from stylegan2.explore import open_explorer
from stylegan2.explore.server import create_app, make_explorer_server
from stylegan2.io import save_checkpoint
from stylegan2.models import Generator

MOVE_JS = """async (values) => {
    const psi = document.getElementById('psi');
    const start = performance.now();
    let last = start;
    for (const value of values) {
        last = performance.now();
        psi.value = value;
        psi.dispatchEvent(new Event('input', {bubbles: true}));
        if (values.length > 1) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => {
        const check = () => document.body.dataset.state === 'idle' ? resolve() : requestAnimationFrame(check);
        check();
    });
    return performance.now() - last;
}"""


def serve_network(path: Path, device: str) -> tuple[str, float, object]:
    """Open and serve a network file on a free port: (URL, seconds to open it, server)."""
    start = time.perf_counter()
    explorer = open_explorer(path, device)
    opened = time.perf_counter() - start
    server = make_explorer_server(create_app(explorer), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/", opened, server


def time_http(url: str, repeats: int) -> tuple[float, float]:
    """(median ms of the server's render and PNG encoding, median ms of the whole request)."""
    renders, totals = [], []
    for seed in range(repeats + 1):
        start = time.perf_counter()
        with urllib.request.urlopen(f"{url}api/render?seed={seed}&psi=0.7&d0=1") as response:
            response.read()
        totals.append(time.perf_counter() - start)
        renders.append(float(response.headers["X-Render-Ms"]))
    return statistics.median(renders[1:]), statistics.median(totals[1:]) * 1000  # the first request warms up


def time_browser(url: str, repeats: int, chromium: str) -> tuple[float, float]:
    """(median ms from one slider move to its image, median ms from the last of ten moves to its image)."""
    from playwright.sync_api import sync_playwright

    values = [f"{-1 + 0.05 * (i % 51):.2f}".rstrip("0").rstrip(".") for i in range(1, 400)]  # the slider's steps, each new
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("body[data-state=idle]", timeout=120_000)
        single = [page.evaluate(MOVE_JS, [values.pop()]) for _ in range(repeats + 1)][1:]
        burst = [page.evaluate(MOVE_JS, [values.pop() for _ in range(10)]) for _ in range(max(3, repeats // 2))]
        browser.close()
    return statistics.median(single), statistics.median(burst)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolutions", default="32,64,256")
    parser.add_argument("--cbase", type=int, default=32768)
    parser.add_argument("--cmax", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--chromium", default=shutil.which("chromium"), help="Chromium binary for the browser timings.")
    args = parser.parse_args()
    resolutions = parse_resolutions(parser, args.resolutions)
    check_at_least_one(parser, cbase=args.cbase, cmax=args.cmax, repeats=args.repeats, threads=args.threads)
    check_device(parser, args.device)
    if args.chromium and not Path(args.chromium).is_file():
        parser.error(f"--chromium {args.chromium}: no such file (Debian: apt-get install chromium; it lands in /usr/bin/chromium)")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        import playwright  # noqa: F401
        browser = args.chromium
    except ImportError:
        browser = None
    print(f"device {args.device} ({torch.get_num_threads()} CPU threads), cbase {args.cbase}, cmax {args.cmax}; "
          f"ms, median of {args.repeats}")
    print(f"{'res':>5}{'open+SeFa':>11}{'render':>9}{'http':>9}{'browser':>10}{'burst':>9}")
    with tempfile.TemporaryDirectory() as folder:
        for res in resolutions:
            torch.manual_seed(0)
            G = Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=res, img_channels=3,
                          synthesis_kwargs=dict(channel_base=args.cbase, channel_max=args.cmax))
            path = Path(folder) / f"g{res}.safetensors"
            save_checkpoint(path, {"G_ema": G})
            url, opened, server = serve_network(path, args.device)
            render, http = time_http(url, args.repeats)
            single, burst = time_browser(url, args.repeats, browser) if browser else (float("nan"), float("nan"))
            server.shutdown()
            print(f"{res:>5}{opened * 1000:>11.0f}{render:>9.0f}{http:>9.0f}{single:>10.0f}{burst:>9.0f}", flush=True)


if __name__ == "__main__":
    main()
