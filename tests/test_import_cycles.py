"""No import circle among the application's modules (tests excluded). Every import statement
counts, also those under ``TYPE_CHECKING`` and inside functions: a circle hidden there still
means two modules that cannot be understood, or moved, one without the other."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["bot", "bench"]
# The one circle left, kept knowingly: ``Database.open`` picks the backend by importing it inside
# the method, and the backends subclass ``Database``. Breaking it means moving the interface out of
# bot/storage/db.py, which the storage developers are changing right now; the test below fails as
# soon as this allowance is no longer needed, so it cannot outlive the circle.
ALLOWED = {("bot.storage.db", "bot.storage.postgres"), ("bot.storage.db", "bot.storage.sqlite")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The known modules this module names in an import statement (``from a import b`` is ``a.b``
    when ``b`` is a module, else ``a``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                if f"{base}.{alias.name}" in known:
                    found.add(f"{base}.{alias.name}")
                elif base in known:
                    found.add(base)
    found.discard(name)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def test_no_import_circle_among_application_modules() -> None:
    graph = import_graph()
    for source, target in ALLOWED:
        graph[source].discard(target)
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_every_allowed_edge_still_closes_a_circle() -> None:
    graph = import_graph()
    for source, target in ALLOWED:
        assert target in graph[source] and source in graph[target], f"{source} <-> {target} is gone: drop it"


def test_the_check_sees_a_circle() -> None:
    # The detector itself: a two-module circle, one side only under TYPE_CHECKING, is found.
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    source = ROOT / "bot" / "ui" / "context.py"
    assert "bot.app" in imports_of("bot.ui.context", source, {"bot.app", "bot.ui.context"})
