"""`stylegan2 explore`: a local web page to move through a network's latent space (or swap SwapAE codes) live.

The rendering logic (`GanExplorer`, `SwapExplorer`) needs only the library; the server (`server.py`)
needs the `explore` extra (Flask).
"""

from .coalesce import LatestOnly, Superseded
from .gan import GanExplorer
from .network import open_explorer
from .settings import GanSettings, SettingsError, SwapSettings
from .swap import SwapExplorer

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
