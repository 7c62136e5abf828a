"""A ranked index over upstream tools: TF-IDF on words (identifiers split into words) and on
character n-grams (for partial and misspelt identifiers), rebuilt when a server's list changes.

scikit-learn is imported on the first search, not at start (it costs about 2 s of cold start).
Results only ever come from the servers the caller may see: the others are masked out before
ranking, so their tools cannot even shape the order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[_\-./:]+")
_WORD_WEIGHT = 0.65  # the rest goes to character n-grams
# Words developers use for the same thing in different tools: each side gains the other's words.
_SYNONYMS: dict[str, str] = {
    "pr": "pull request",
    "prs": "pull requests",
    "mr": "merge request",
    "email": "mail message",
    "mail": "email",
    "ticket": "issue",
    "tickets": "issues",
    "bug": "issue",
    "exception": "error",
    "exceptions": "errors",
    "crash": "error",
    "meeting": "event",
    "meetings": "events",
    "alert": "monitor",
    "alerts": "monitors",
    "silence": "mute",
    "ship": "release",
    "shipped": "release",
    "plan": "subscription",
    "screenshot": "file",
    "attachment": "file",
    "repo": "repository",
    "wiki": "page",
}
_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class ToolDoc:
    server: str
    name: str  # as the caller sees it (`<server>__<tool>`)
    description: str
    parameters: str  # parameter names and descriptions, flattened

    @property
    def text(self) -> str:
        return expand(" ".join((words(self.name), words(self.server), self.description, words(self.parameters))))


@dataclass(frozen=True, slots=True)
class Hit:
    doc: ToolDoc
    score: float


def words(identifier: str) -> str:
    """`listPullRequests` / `list_pull_requests` → "list pull requests"."""
    return _SEPARATORS.sub(" ", _CAMEL.sub(" ", identifier)).lower()


def expand(text: str) -> str:
    """`text` plus the synonyms of its words (applied to tools and queries alike)."""
    extra = [_SYNONYMS[token] for token in _TOKEN.findall(text.lower()) if token in _SYNONYMS]
    return f"{text} {' '.join(extra)}" if extra else text


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


class ToolIndex:
    def __init__(self) -> None:
        self._by_server: dict[str, list[ToolDoc]] = {}
        self._docs: list[ToolDoc] = []
        self._model: Any = None  # [(vectorizer, matrix) for words, for character n-grams], built lazily

    def replace(self, server: str, docs: Iterable[ToolDoc]) -> None:
        """Set `server`'s tools (after its list was fetched or changed); the next search refits."""
        self._by_server[server] = list(docs)
        self._model = None

    def remove(self, server: str) -> None:
        self._by_server.pop(server, None)
        self._model = None

    def __len__(self) -> int:
        return sum(len(docs) for docs in self._by_server.values())

    def search(self, query: str, k: int, visible: frozenset[str] | None) -> list[Hit]:
        """The `k` best tools for `query` among servers in `visible` (None: every server)."""
        if not query.strip() or k <= 0:
            return []
        model = self._fitted()
        if model is None:
            return []
        text = expand(words(query) + " " + query.lower())
        scores: Any = 0.0
        for weight, (vectorizer, matrix) in zip((_WORD_WEIGHT, 1 - _WORD_WEIGHT), model, strict=True):
            if vectorizer is not None:
                scores = scores + weight * (matrix @ vectorizer.transform([text]).T).toarray().ravel()
        if isinstance(scores, float):
            return []
        docs = self._docs
        hits: list[Hit] = []
        for i in scores.argsort()[::-1]:
            doc, score = docs[int(i)], float(scores[i])
            if score <= 0 or len(hits) >= k:
                break
            if visible is None or doc.server in visible:
                hits.append(Hit(doc, score))
        return hits

    def _fitted(self) -> Any:
        if self._model is not None:
            return self._model
        self._docs = [doc for server in sorted(self._by_server) for doc in self._by_server[server]]
        if not self._docs:
            return None
        from sklearn.feature_extraction.text import TfidfVectorizer  # pyright: ignore[reportMissingTypeStubs] - heavy: imported on first search only

        texts = [doc.text for doc in self._docs]
        parts: list[tuple[Any, Any]] = []
        vectorizers: list[Any] = [
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english"),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True),
        ]
        for vectorizer in vectorizers:
            try:
                parts.append((vectorizer, vectorizer.fit_transform(texts)))
            except ValueError:  # no terms at all (e.g. one-letter names): this half cannot score
                parts.append((None, None))
        self._model = parts
        return self._model
