"""Settings built in Python rather than parsed from a request: a seed NumPy cannot take is refused in one line."""

import pytest

from stylegan2.explore import GanSettings, open_explorer
from stylegan2.tools import ToolError


@pytest.mark.parametrize("settings, message", [
    (GanSettings(seed=-1), r"^seed -1 is outside 0\.\.4294967295$"),
    (GanSettings(seed=0, mix_seed=2**32, mix_styles="0"), r"^seed 4294967296 is outside 0\.\.4294967295$"),
])
def test_render_refuses_a_seed_outside_numpys_range(gan_file, settings, message):
    explorer = open_explorer(gan_file, "cpu", top_k=1)
    with pytest.raises(ToolError, match=message):
        explorer.render(settings)
