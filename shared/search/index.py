"""What the tool search indexes: a tool as a document (`ToolDoc`, built from an upstream's tool
with `doc_from_tool`), a search result (`Hit`), and identifiers split into words (`words`). The
ranker is shared.search.hybrid; the TF-IDF index that came before lives on as the evaluation's
baseline (infra/search_eval/tfidf.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[_\-./:]+")


@dataclass(frozen=True, slots=True)
class ToolDoc:
    server: str
    name: str  # as the caller sees it (`<server>__<tool>`)
    description: str
    parameters: str  # parameter names and descriptions, flattened


@dataclass(frozen=True, slots=True)
class Hit:
    doc: ToolDoc
    score: float
    match: float = 0.0  # the hybrid index's cosine with the query (how well it fits, not its rank)


def words(identifier: str) -> str:
    """`listPullRequests` / `list_pull_requests` → "list pull requests"."""
    return _SEPARATORS.sub(" ", _CAMEL.sub(" ", identifier)).lower()


def doc_from_tool(server: str, tool: Mapping[str, Any]) -> ToolDoc:
    parts: list[str] = []
    for name, spec in _properties(tool.get("inputSchema")).items():
        parts.append(name)
        description = cast(dict[str, object], spec).get("description") if isinstance(spec, dict) else None
        if isinstance(description, str):
            parts.append(description)
    return ToolDoc(server, str(tool.get("name", "")), str(tool.get("description") or ""), " ".join(parts))


def _properties(schema: object) -> dict[str, object]:
    """The `properties` of a JSON Schema object an upstream sent (anything else: none)."""
    if not isinstance(schema, dict):
        return {}
    properties = cast(dict[str, object], schema).get("properties")
    if not isinstance(properties, dict):
        return {}
    return {str(k): v for k, v in cast(dict[object, object], properties).items()}
