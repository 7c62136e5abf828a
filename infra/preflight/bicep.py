"""Every Bicep resource against Azure's published resource type definitions (Azure/bicep-types-az).

The Bicep CLI cannot run here. Its compiler checks declarations against these same type
definitions; this does the part a deployment trips over first: each `type@apiVersion` must exist,
and every property written in an object literal must exist at that API version (and not be
read-only). Values that are expressions are not evaluated. The types are vendored in
`schemas/bicep-types.json` (vendor_bicep_types.py refreshes them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tree_sitter_bicep
from tree_sitter import Language, Node, Parser

TYPES = Path(__file__).parent / "schemas" / "bicep-types.json"
READ_ONLY = 2
_LANGUAGE_KEYS = {"parent", "scope", "dependsOn"}  # Bicep's own, not the resource body's
_PARSER = Parser(Language(tree_sitter_bicep.language()))


def _text(node: Node | None) -> str:
    return node.text.decode() if node is not None and node.text is not None else ""


def _key(prop: Node) -> str:
    first = prop.children[0]
    return _text(first).strip("'") if first.type == "string" else _text(first)


def _value(prop: Node) -> Node | None:
    return prop.children[2] if len(prop.children) > 2 else None


def _literal(node: Node | None) -> Node | None:
    """The object or array a value ends in, through `for` and `if`; None for other expressions."""
    while node is not None and node.type in ("for_statement", "if_statement"):
        node = next((c for c in reversed(node.children) if c.type in ("object", "array", "if_statement")), None)
    return node if node is not None and node.type in ("object", "array") else None


class _Checker:
    def __init__(self, nodes: dict[str, Any], where: str) -> None:
        self._nodes = nodes
        self._where = where
        self.problems: list[str] = []

    def _properties(self, type_id: int) -> tuple[dict[str, list[int]], bool] | None:
        """(properties by lower-cased name, whether others are allowed); None when anything goes."""
        node = self._nodes[str(type_id)]
        if "object" in node:
            return {k.lower(): v for k, v in node["object"].items()}, node["additional"] is not None
        if "discriminated" in node:
            merged = {k.lower(): v for k, v in node["base"].items()}
            for element in node["elements"].values():
                found = self._properties(element)
                if found is not None:
                    merged.update(found[0])
            return merged, False
        if "union" in node:
            merged: dict[str, list[int]] = {}
            for element in node["union"]:
                found = self._properties(element)
                if found is None:
                    return None
                merged.update(found[0])
            return (merged, False) if merged else None
        return None

    def check(self, value: Node | None, type_id: int, path: str, *, body: bool = False) -> None:
        node = self._nodes[str(type_id)]
        if value is not None and value.type == "for_statement" and "array" in node and not body:
            # `[for x in xs: {...}]` as a property's value: its body is one item of the array.
            self.check(value, node["array"], f"{path}[]")
            return
        literal = _literal(value)
        if literal is None:
            return
        if literal.type == "array":
            items = node.get("array")
            if items is not None:
                for element in literal.children:
                    if element.type not in ("[", "]", ","):
                        self.check(element, items, f"{path}[]")
            return
        known = self._properties(type_id)
        if known is None:
            return
        properties, open_ended = known
        for prop in (c for c in literal.children if c.type == "object_property"):
            key = _key(prop)
            if body and key in _LANGUAGE_KEYS:
                continue
            found = properties.get(key.lower())
            if found is None:
                if not open_ended:
                    self.problems.append(f"{self._where}: {path}.{key} is not a property of this type")
                continue
            if found[1] & READ_ONLY and key.lower() not in ("name", "id", "type"):
                self.problems.append(f"{self._where}: {path}.{key} is read-only")
            self.check(_value(prop), found[0], f"{path}.{key}")


def check(files: list[Path]) -> list[str]:
    """Problems of every resource declared in `files`, naming file, line, type and property."""
    catalog: dict[str, Any] = json.loads(TYPES.read_text())["resources"]
    by_name = {name.lower(): entry for name, entry in catalog.items()}
    problems: list[str] = []
    for path in files:
        root = _PARSER.parse(path.read_bytes()).root_node
        for declaration in (c for c in root.children if c.type == "resource_declaration"):
            kinds = [c for c in declaration.children if c.type == "string"]
            if not kinds or any(c.type == "existing" for c in declaration.children):
                continue
            name = _text(kinds[0]).strip("'")
            where = f"{path.name}:{declaration.start_point[0] + 1} {name}"
            entry = by_name.get(name.lower())
            if entry is None:
                problems.append(f"{where}: no such resource type and API version in Azure's type definitions")
                continue
            checker = _Checker(entry["nodes"], where)
            checker.check(declaration.children[-1], entry["root"], "", body=True)
            problems.extend(checker.problems)
    return problems
