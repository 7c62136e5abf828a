"""The hub's tool search before issue 17, kept as the evaluation's baseline: TF-IDF on words
(identifiers split into words, a hand-written synonym table) and on character n-grams, updated
server by server as lists change. It ranked `search_tools` and `hub_recommend_servers` until
both moved to shared.search.hybrid."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, cast

from shared.search.index import Hit, ToolDoc, words

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


def expand(text: str) -> str:
    """`text` plus the synonyms of its words (applied to tools and queries alike)."""
    extra = [_SYNONYMS[token] for token in _TOKEN.findall(text.lower()) if token in _SYNONYMS]
    return f"{text} {' '.join(extra)}" if extra else text


def text_of(doc: ToolDoc) -> str:
    return expand(" ".join((words(doc.name), words(doc.server), doc.description, words(doc.parameters))))


class ToolIndex:
    """Tools of many servers, searchable together.

    The first search fits the vocabulary and weights on every tool. After that, a server whose
    list changed is folded in alone: only its tools are vectorised again, with the fitted
    vocabulary (words it has never seen count from the next full fit). A full fit happens again
    once the tools changed since the last one make up a quarter of the index.
    """

    REFIT_SHARE = 0.25

    def __init__(self) -> None:
        self._by_server: dict[str, list[ToolDoc]] = {}
        self._vectorizers: list[Any] | None = None  # fitted (words, character n-grams), None: fit anew
        self._rows: dict[str, list[Any]] = {}  # server → its rows under each vectorizer (None: no terms)
        self._model: Any = None  # [(vectorizer, matrix) for each half] over `_docs`, stacked lazily
        self._docs: list[ToolDoc] = []
        self._changed = 0  # tools replaced since the last full fit

    def replace(self, server: str, docs: Iterable[ToolDoc]) -> None:
        """Set `server`'s tools (after its list was fetched or changed); the next search sees them."""
        before = set(self._by_server.get(server, []))
        self._by_server[server] = list(docs)
        self._rows.pop(server, None)
        self._model = None
        self._changed += len(before.symmetric_difference(self._by_server[server]))  # tools added, changed or gone
        if self._changed > self.REFIT_SHARE * len(self):
            self._vectorizers = None

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
        order = [server for server in sorted(self._by_server) if self._by_server[server]]
        if not order:
            return None
        if self._vectorizers is None:
            self._fit(order)
        vectorizers = cast(list[Any], self._vectorizers)
        for server in order:
            if server not in self._rows:
                texts = [text_of(doc) for doc in self._by_server[server]]
                self._rows[server] = [v.transform(texts) if v is not None else None for v in vectorizers]
        from scipy import sparse  # pyright: ignore[reportMissingTypeStubs] - comes with scikit-learn

        stack = cast(Any, sparse).vstack
        self._docs = [doc for server in order for doc in self._by_server[server]]
        self._model = [
            (vectorizer, stack([self._rows[server][half] for server in order]).tocsr() if vectorizer else None)
            for half, vectorizer in enumerate(vectorizers)
        ]
        return self._model

    def _fit(self, order: list[str]) -> None:
        """Vocabulary and weights from every tool, and every server's rows."""
        from sklearn.feature_extraction.text import TfidfVectorizer  # pyright: ignore[reportMissingTypeStubs] - heavy: imported on first search only

        texts = [text_of(doc) for server in order for doc in self._by_server[server]]
        vectorizers: list[Any] = []
        matrices: list[Any] = []
        candidates: list[Any] = [
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english"),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True),
        ]
        for vectorizer in candidates:
            try:
                matrices.append(vectorizer.fit_transform(texts))
                vectorizers.append(vectorizer)
            except ValueError:  # no terms at all (e.g. one-letter names): this half cannot score
                matrices.append(None)
                vectorizers.append(None)
        self._rows = {}
        start = 0
        for server in order:
            end = start + len(self._by_server[server])
            self._rows[server] = [m[start:end] if m is not None else None for m in matrices]
            start = end
        self._vectorizers = vectorizers
        self._changed = 0
