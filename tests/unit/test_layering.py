"""shared/ is layered: no package imports one that imports it back (directly or round a loop)."""

from __future__ import annotations

import re
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in SHARED.rglob("*.py"):
        parts = path.relative_to(SHARED).parts
        package = parts[0] if len(parts) > 1 else path.stem
        for found in re.finditer(r"^\s*(?:from|import) shared\.(\w+)", path.read_text(), re.MULTILINE):
            if found.group(1) != package:
                graph.setdefault(package, set()).add(found.group(1))
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_shared_packages_import_each_other_in_one_direction_only() -> None:
    assert _cycle(_imports()) is None


def test_the_cycle_finder_finds_a_loop() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
