"""The layout rules of bot/ (issue 7), checked on the source so a change cannot drift.

- infrastructure (bot.core, bot.dialogs, bot.outbound) never imports a feature; only the
  wiring (bot.core.app) and the process runner that builds it may;
- no module imports a private name of another;
- no import cycles between modules, counting imports inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "est", "storage")
WIRING = {"bot.core.app", "bot.core.runner"}
INFRASTRUCTURE = ("bot.core", "bot.dialogs", "bot.outbound")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def imports_of(name: str) -> list[tuple[str, list[str], bool]]:
    """(imported module, imported names, under TYPE_CHECKING) for every import in ``name``."""
    tree = ast.parse(MODULES[name].read_text())
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], id(node) in typing_only) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [alias.name for alias in node.names]
            for alias in names:  # `from bot.outbound import posts` imports a module
                if f"{node.module}.{alias}" in MODULES:
                    found.append((f"{node.module}.{alias}", [], id(node) in typing_only))
            found.append((node.module, names, id(node) in typing_only))
    return [(target, names, typing) for target, names, typing in found
            if target.split(".")[0] in PACKAGES]


def test_the_layout_has_the_packages_the_readme_names():
    for package in ("bot.core", "bot.dialogs", "bot.outbound", "bot.features", "bot.cli"):
        assert package in MODULES, package
    flat = sorted(n for n in MODULES if n.count(".") == 1 and n.startswith("bot.")
                  and not MODULES[n].name == "__init__.py")
    assert flat == ["bot.__main__"], f"modules left flat in bot/: {flat}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith(INFRASTRUCTURE)))
def test_infrastructure_never_imports_a_feature(name):
    if name in WIRING:
        pytest.skip("the wiring registers the features")
    features = [t for t, _, _ in imports_of(name) if t.startswith("bot.features")]
    assert not features, f"{name} imports {features}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_a_private_name(name):
    private = [f"{t}.{n}" for t, names, _ in imports_of(name) for n in names
               if n.startswith("_") and not n.startswith("__")]
    assert not private, f"{name} imports {private}"


def test_no_import_cycles():
    graph = {name: {t for t, _, typing in imports_of(name) if t in MODULES and not typing
                    and t != name} for name in MODULES}
    # a package's __init__ is imported on the way to its modules; only real edges count
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> None:
        if node in path:
            cycle = [*path[path.index(node):], node]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if node in done:
            return
        path.append(node)
        for target in sorted(graph[node]):
            visit(target)
        path.pop()
        done.add(node)

    for name in sorted(graph):
        visit(name)
