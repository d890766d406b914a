"""The API reference covers the whole package: every public module is rendered by a `::: stylegan2...` directive in
docs/api/ (naming the module, something in it, or a package above it rendered with `show_submodules: true`), or a
page renders its package, which re-exports names the module defines (in the package's `__all__`). `mkdocs build
--strict` only checks the directives that are there, so a module none of them reaches would have no reference."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "stylegan2"
NOT_API = {  # public modules that are no Python API, each with why
    "stylegan2.cli": "the command line: `stylegan2 COMMAND --help` and the guide pages are its reference",
    "stylegan2.console": "the `stylegan2` command's entry point, which only loads `stylegan2.cli`",
}
DIRECTIVE = re.compile(r"^::: (stylegan2[\w.]*)\n((?:[ \t]+\S.*\n)*)", re.MULTILINE)


def public_modules() -> set[str]:
    """Every module and package of stylegan2 whose dotted name has no part starting with `_`."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not any(part.startswith("_") for part in parts):
            names.add(".".join(parts))
    return names


def directives() -> dict[str, bool]:
    """What docs/api/*.md render: each directive's dotted name, and whether it shows submodules (mkdocs.yml: no)."""
    found = {}
    for page in (ROOT / "docs" / "api").glob("*.md"):
        for match in DIRECTIVE.finditer(page.read_text(encoding="utf-8")):
            found[match[1]] = "show_submodules: true" in match[2]
    return found


def reexported_modules(package: str) -> set[str]:
    """The modules from which `package`'s `__init__` imports a name that its `__all__` lists."""
    tree = ast.parse((PACKAGE.parent.joinpath(*package.split(".")) / "__init__.py").read_text(encoding="utf-8"))
    exported = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets):
            exported = set(ast.literal_eval(node.value))
    return {f"{package}.{node.module}" for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
            and any((alias.asname or alias.name) in exported for alias in node.names)}


def covered(module: str, rendered: dict[str, bool]) -> bool:
    """Whether the API reference shows `module` or something it defines."""
    for name, show_submodules in rendered.items():
        if name == module or name.startswith(module + "."):  # the module itself, or an object in it
            return True
        if module.startswith(name + ".") and (show_submodules or module in reexported_modules(name)):
            return True
    return False


def test_every_public_module_is_in_the_api_reference():
    rendered = directives()
    missing = sorted(module for module in public_modules()
                     if not module.startswith(tuple(NOT_API)) and not covered(module, rendered))
    assert not missing, (f"no page of docs/api/ shows {missing}: add `::: <module>` to its package's page, or export "
                         f"its public names in the package's __init__ and __all__")


def test_the_modules_left_out_of_the_api_reference_exist():
    """Each exception names a real module, so that a renamed one is not left out unseen."""
    assert set(NOT_API) <= public_modules()
