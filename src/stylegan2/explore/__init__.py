"""`stylegan2 explore`: a local web page to move through a network's latent space (or swap SwapAE codes) live.

The rendering logic (`GanExplorer`, `SwapExplorer`) needs only the library; the server (`server.py`)
needs the `explore` extra (Flask).
"""

from .coalesce import LatestOnly, Superseded
from .gan import GanExplorer
from .network import open_explorer
from .settings import GanSettings, SettingsError, SwapSettings
from .swap import SwapExplorer

# Where the server listens unless told (here, not in server.py, so that `stylegan2 explore --help` needs no Flask).
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

__all__ = [
    "GanExplorer",
    "GanSettings",
    "LatestOnly",
    "SettingsError",
    "Superseded",
    "SwapExplorer",
    "SwapSettings",
    "open_explorer",
]
