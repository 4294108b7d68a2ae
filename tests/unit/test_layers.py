"""The package's shape, read from its source with `ast` (every import, function-level ones included):
no import cycle between modules, no import that points up a layer, and the fast paths (help, usage errors,
static completion) load nothing of `access`, nor `kubernetes`, `ssl` or `http.client`.

Layers, highest first: the entry point (`__main__`), `cli`, `commands`, then `ui` and `access` side by side
(neither imports the other), `model`, then `errors` and the package root. A module imports only its own
layer and the layers below it. Edges are the imports as written (`from oc_virt_expose.cli import main` is
an edge to `oc_virt_expose.cli.main`), not the parent packages Python loads on the way.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.unit.conftest import REPO, FreshRun

PACKAGE = "oc_virt_expose"
ALLOWED = {
    "entry": {"entry", "cli", "base"},
    "cli": {"cli", "commands", "ui", "access", "model", "base"},
    "commands": {"commands", "ui", "access", "model", "base"},
    "ui": {"ui", "model", "base"},
    "access": {"access", "model", "base"},
    "model": {"model", "base"},
    "base": {"base"},
}
"""Layer -> the layers its modules may import."""
NEVER_ON_FAST_PATHS = (f"{PACKAGE}.access", "kubernetes", "ssl", "http.client")


class Import(NamedTuple):
    source: str
    target: str
    where: str
    """`oc_virt_expose/cli/main.py:12`, for messages."""

    def __str__(self) -> str:
        return f"{self.where}: {self.source} -> {self.target} ({layer(self.source)} -> {layer(self.target)})"


def module_files() -> dict[str, Path]:
    """Module name -> file, for every module of the package."""
    files = {}
    for path in sorted((REPO / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


MODULES = module_files()


def layer(module: str) -> str:
    """`cli`, `commands`, `ui`, `access`, `model`, `base` (the root and `errors`), `entry` (`__main__`), or
    `unlayered`."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "errors":
        return "base"
    if parts[1] == "__main__":
        return "entry"
    return parts[1] if parts[1] in ALLOWED else "unlayered"


def imports_of(module: str, path: Path) -> Iterator[Import]:
    """The package's modules that `module` imports, anywhere in its file (functions, TYPE_CHECKING too)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        for name in dict.fromkeys(names):
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                yield Import(module, name, f"{path.relative_to(REPO)}:{node.lineno}")


@functools.cache
def import_graph() -> tuple[Import, ...]:
    return tuple(edge for module, path in MODULES.items() for edge in imports_of(module, path))


def cycles(edges: tuple[Import, ...]) -> list[list[str]]:
    """The strongly connected components with more than one module (or a module importing itself)."""
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm; the package is small enough to recurse
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1 or module in graph.get(module, ()):
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_the_package_is_read_whole() -> None:
    assert {f"{PACKAGE}.cli.main", f"{PACKAGE}.commands.common", f"{PACKAGE}.access.watch", f"{PACKAGE}.model.objects",
            f"{PACKAGE}.ui.printer", f"{PACKAGE}.errors", PACKAGE} <= set(MODULES)
    function_level = [edge for edge in import_graph() if edge.source == f"{PACKAGE}.cli.main"
                      and edge.target.startswith(f"{PACKAGE}.commands")]
    assert function_level, "cli.main imports the commands inside a function: the graph must see it"


def test_every_module_has_a_layer_and_every_import_names_a_module() -> None:
    unlayered = sorted(module for module in MODULES if layer(module) == "unlayered")
    assert unlayered == [], f"modules outside the layers: {unlayered}"
    dangling = [str(edge) for edge in import_graph() if edge.target not in MODULES]
    assert dangling == [], "imports of modules that do not exist:\n" + "\n".join(dangling)


def test_no_import_cycle() -> None:
    edges = import_graph()
    found = cycles(edges)
    shown = "\n\n".join("\n".join(str(edge) for edge in edges if edge.source in group and edge.target in group)
                        for group in found)
    assert found == [], f"import cycles:\n{shown}"


def test_no_import_points_up_a_layer() -> None:
    upward = [str(edge) for edge in import_graph() if layer(edge.target) not in ALLOWED[layer(edge.source)]]
    assert upward == [], "imports that point up a layer (or across, between ui and access):\n" + "\n".join(upward)


@pytest.mark.parametrize(
    ("lower", "never"),
    [("access", {"commands", "ui", "cli"}), ("ui", {"access", "commands", "cli"}),
     ("model", {"access", "commands", "ui", "cli"})],
)
def test_what_each_lower_layer_never_imports(lower: str, never: set[str]) -> None:
    assert not never & ALLOWED[lower]
    found = [str(edge) for edge in import_graph() if layer(edge.source) == lower and layer(edge.target) in never]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    ("argv", "code", "shown"),
    [
        (["--help"], 0, "usage: python -m oc_virt_expose"),
        (["vm", "x", "--port", "80/XTP"], 2, 'invalid port "80/XTP"'),
        (["__complete", ""], 0, "vm\nvmi\nvmirs\n"),
        (["__complete", "vm", "x", "--ty"], 0, "--type\n"),
    ],
    ids=["help", "usage error", "complete the first word", "complete a flag"],
)
def test_fast_paths_load_no_cluster_access(run_plugin: FreshRun, argv: list[str], code: int, shown: str) -> None:
    result = run_plugin(*argv)
    assert result.returncode == code, result.stderr
    assert shown in result.stdout + result.stderr
    assert result.loaded(NEVER_ON_FAST_PATHS) == set()
