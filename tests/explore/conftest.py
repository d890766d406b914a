"""Tiny networks saved as files for the explorer tests: a 16 px GAN (optionally conditional: on classes, clusters or
label vectors) and a 16 px SwapAE; and for the browser tests (test_browser_*.py), the explorer served on them, a
headless Chromium (Playwright) and the helpers that drive its pages (`ui`)."""

import base64
import contextlib
import io
import os
import select
import shlex
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from stylegan2.cli import main
from stylegan2.io import save_checkpoint
from stylegan2.models import Generator, SwapEncoder, SwapGenerator


def build_generator(c_dim: int = 0, noise_strength: float = 0.0, resolution: int = 16,
                    c_prior: list[float] | None = None) -> Generator:
    """A generator whose images lie in about [-1, 1] (toRGB scaled down) with w_avg the mean w, as after training;
    `c_prior` (one share per class): trained on clusters, so it draws a cluster from z when none is given."""
    torch.manual_seed(1)
    G = Generator(z_dim=16, c_dim=c_dim, w_dim=16, img_resolution=resolution, img_channels=3,
                  mapping_kwargs={"num_layers": 2, "c_prior": c_prior},
                  synthesis_kwargs={"channel_base": 8 * resolution, "channel_max": 16})
    with torch.no_grad():
        for name, param in G.named_parameters():
            if "torgb.weight" in name:
                param.mul_(0.25)
            if "noise_strength" in name:
                param.fill_(noise_strength)
        c = torch.eye(c_dim)[torch.arange(256) % c_dim] if c_dim else None
        G.mapping.w_avg.copy_(G.mapping(torch.randn(256, 16), c)[:, 0].mean(0))
    return G.eval()


def build_swapae() -> tuple[SwapEncoder, SwapGenerator]:
    torch.manual_seed(2)
    codes = dict(spatial_code_ch=4, global_code_ch=16)
    E = SwapEncoder(img_resolution=16, img_channels=3, channel_base=256, channel_max=16, num_downsampling_sp=2,
                    num_downsampling_gl=1, **codes)
    G = SwapGenerator(img_resolution=16, img_channels=3, num_upsampling=2, channel_base=256, channel_max=16,
                      use_noise=False, **codes)
    return E.eval(), G.eval()


@pytest.fixture(autouse=True)
def _one_thread(one_thread: None) -> None:
    """Every test here runs its tiny networks on one thread."""


@pytest.fixture(scope="session")
def gan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An unconditional 16 px generator with noise, saved as our checkpoint."""
    path = tmp_path_factory.mktemp("explore-nets") / "gan.safetensors"
    save_checkpoint(path, {"G_ema": build_generator(noise_strength=0.3)})
    return path


@pytest.fixture(scope="session")
def cond_gan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A conditional (4 classes) 16 px generator."""
    path = tmp_path_factory.mktemp("explore-nets") / "cond.safetensors"
    save_checkpoint(path, {"G_ema": build_generator(c_dim=4)})
    return path


@pytest.fixture(scope="session")
def vector_gan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 16 px generator trained on label vectors of 3 numbers, as its snapshot records (`Generator.label_kind`)."""
    path = tmp_path_factory.mktemp("explore-nets") / "vectors.safetensors"
    save_checkpoint(path, {"G_ema": build_generator(c_dim=3)}, training_state={"labels": "vectors"})
    return path


@pytest.fixture(scope="session")
def cluster_gan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 16 px generator trained on 4 clusters (draws_labels): a cluster is optional, drawn from the seed without one."""
    path = tmp_path_factory.mktemp("explore-nets") / "clusters.safetensors"
    save_checkpoint(path, {"G_ema": build_generator(c_dim=4, c_prior=[0.25] * 4)})
    return path


@pytest.fixture(scope="session")
def swapae_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialized 16 px Swapping Autoencoder (E and G)."""
    E, G = build_swapae()
    path = tmp_path_factory.mktemp("explore-nets") / "swapae.safetensors"
    save_checkpoint(path, {"E": E, "G": G})
    return path


@pytest.fixture
def png_file() -> Callable[..., bytes]:
    """`make(width, height, mode, seed)`: the bytes of a random-noise PNG."""
    def make(width: int = 16, height: int = 16, mode: str = "RGB", seed: int = 0) -> bytes:
        import io
        rng = np.random.default_rng(seed)
        channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
        pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode).save(buffer, format="PNG")
        return buffer.getvalue()
    return make


# The browser tests: `stylegan2 explore` served on the networks above, driven by headless Chromium through Playwright.

CHROMIUM = os.environ.get("STYLEGAN2_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.contextmanager
def explorer_url(network: Path, *options: str) -> Iterator[str]:
    """Run `python -m stylegan2 explore` on a free port; yields the URL it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "stylegan2", "explore", "--network", str(network), "--port", "0", "--device", "cpu", *options],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"})
    try:
        said = ""  # notes (an --images image cropped, say) may come before the address
        while "http://" not in said.rpartition("\n")[0]:
            ready, _, _ = select.select([process.stdout], [], [], 120)
            line = process.stdout.readline() if ready else ""
            if not line:  # no output within 120 s, or the command ended
                process.kill()
                pytest.fail(f"stylegan2 explore did not start: {said}{process.stdout.read()}")
            said += line
        yield said.split("open ", 1)[1].split()[0]
    finally:
        process.terminate()
        process.wait(10)


def wait_idle(page) -> None:
    page.wait_for_selector("body[data-state=idle]", timeout=30_000)


def wait_error(page) -> str:
    """The refusal under the image, once shown (a typed value's waits for a pause in the typing)."""
    page.wait_for_selector("#error:not(:empty)")
    return page.text_content("#error")


def shown_image(page) -> np.ndarray:
    """The exact bytes of the image on the page (not a screenshot, which the browser would scale)."""
    data = page.evaluate("""async () => {
        const bytes = new Uint8Array(await (await fetch(document.getElementById('image').src)).arrayBuffer());
        return btoa(String.fromCharCode(...bytes));
    }""")
    with Image.open(io.BytesIO(base64.b64decode(data))) as image:
        return np.asarray(image)


def press(page, selector: str, key: str, times: int) -> None:
    page.focus(selector)
    for _ in range(times):
        page.keyboard.press(key)
    wait_idle(page)


def generate_output(commands: str, workdir: Path) -> np.ndarray:
    """Run the page's commands as a user would; the one PNG that `generate` writes."""
    for command in commands.splitlines():
        args = shlex.split(command)[1:]
        if args[0] == "generate":
            args += ["--outdir", str(workdir / "out")]
        result = CliRunner().invoke(main, args + ["--device", "cpu"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    (path,) = (workdir / "out").glob("*.png")
    with Image.open(path) as image:
        return np.asarray(image)


@contextlib.contextmanager
def new_page(browser, url: str, **options) -> Iterator:
    """A fresh page at `url`, idle; closed afterwards."""
    page = browser.new_page(**options)
    try:
        page.goto(url)
        wait_idle(page)
        yield page
    finally:
        page.close()


def set_fields(page, *changes: tuple[str, str]) -> None:
    """Give each (selector, value) its value with an input event, all within one task: as keystrokes come while a
    render is in flight."""
    page.evaluate("""(changes) => {
        for (const [selector, value] of changes) {
            const field = document.querySelector(selector);
            field.value = value;
            field.dispatchEvent(new Event("input"));
        }
    }""", [list(change) for change in changes])


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium; the browser tests skip, saying why, without it, Playwright or Flask."""
    pytest.importorskip("flask", reason="the explorer's server needs Flask: pip install \"stylegan2[explore]\"")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs Playwright: pip install playwright")
    if CHROMIUM is None:
        pytest.skip("the browser test needs Chromium: apt-get install chromium (or set STYLEGAN2_CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def ui() -> types.SimpleNamespace:
    """The helpers that drive the explorer's pages (test files cannot import each other's)."""
    return types.SimpleNamespace(explorer_url=explorer_url, new_page=new_page, wait_idle=wait_idle, wait_error=wait_error,
                                 shown_image=shown_image, press=press, generate_output=generate_output,
                                 set_fields=set_fields)


@pytest.fixture(scope="session")
def gan_url(browser, gan_file):
    with explorer_url(gan_file, "--top-k", "3") as url:
        yield url


@pytest.fixture(scope="module")
def swap_url(browser, swapae_file):
    """A SwapAE explorer that no test of a file uploads to before it is done with it: it stays empty."""
    with explorer_url(swapae_file) as url:
        yield url


@pytest.fixture(scope="session")
def cluster_url(browser, cluster_gan_file):
    with explorer_url(cluster_gan_file, "--top-k", "1") as url:
        yield url


@pytest.fixture(scope="session")
def vector_url(browser, vector_gan_file):
    with explorer_url(vector_gan_file, "--top-k", "2") as url:
        yield url


@pytest.fixture(scope="module")
def page(browser, gan_url):
    """One page on gan_url that a test file's tests share, in order."""
    page = browser.new_page()
    page.goto(gan_url)
    wait_idle(page)
    yield page
    page.close()
