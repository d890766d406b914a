"""The explorer is an optional extra: without Flask, its server names the extra to install."""

import sys

import pytest


def test_the_server_without_flask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "flask", None)  # what `import flask` meets when Flask is not installed
    monkeypatch.delitem(sys.modules, "stylegan2.explore.server", raising=False)
    with pytest.raises(ModuleNotFoundError, match=r'needs Flask; pip install "stylegan2\[explore\]"') as raised:
        import stylegan2.explore.server  # noqa: F401
    assert raised.value.name == "flask"  # what `stylegan2 explore` checks to give its own one-line hint
