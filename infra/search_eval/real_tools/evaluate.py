"""Tool search on real servers' tools (issue 17): recall@1, recall@5, MRR and "nothing fits".

The tools are 19 public MCP server packages' own lists (tools.json); the queries were labelled
before any ranker changed (queries.jsonl: `dev`, which tuned the hub's ranker, and `heldout`, not
looked at until that work ended). queries_frozen.jsonl (`frozen`) was written after the end, for
the regression tests: no ranker was tuned with it.

"Nothing fits" is measured from the top score: AUROC of telling answerable queries from those with
no fitting tool (0.5 = chance), plus, at the threshold that flags 90 % of the unanswerable ones,
the share of answerable queries wrongly given up on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from shared.search.index import ToolDoc

if TYPE_CHECKING:
    from shared.search.embedding import Embedder, Vectors

    Embed = Callable[[Sequence[str]], Vectors]  # texts → L2-normalised rows

DATA = Path(__file__).parent
# A ranker: (query, k) -> ranked (tool name, score) pairs, best first.
Ranker = Callable[[str, int], list[tuple[str, float]]]


@dataclass(frozen=True)
class Query:
    text: str
    kind: str
    expect: frozenset[str]  # `<server>__<tool>` names; empty = nothing fits
    split: str


def _flatten(schema: Any) -> str:
    """Parameter names and descriptions of an input schema, as one text."""
    if not isinstance(schema, dict):
        return ""
    parts: list[str] = []
    for name, spec in (schema.get("properties") or {}).items():
        description = spec.get("description", "") if isinstance(spec, dict) else ""
        parts.append(f"{name} {description}")
    return " ".join(parts)


def docs() -> list[ToolDoc]:
    tools: dict[str, Any] = json.loads((DATA / "tools.json").read_text())
    return [
        ToolDoc(server, f"{server}__{tool['name']}", tool.get("description") or "", _flatten(tool.get("inputSchema")))
        for server, entry in tools.items()
        for tool in entry["tools"]
    ]


SPLITS = ("dev", "heldout", "frozen")


def queries(split: str) -> list[Query]:
    rows = [
        json.loads(line)
        for name in ("queries.jsonl", "queries_frozen.jsonl")
        if (DATA / name).exists()
        for line in (DATA / name).read_text().splitlines()
        if line.strip()
    ]
    return [
        Query(row["query"], row["kind"], frozenset(e.replace("/", "__", 1) for e in row["expect"]), row["split"])
        for row in rows
        if row["split"] == split
    ]


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """P(a random answerable query's top score > a random unanswerable one's); ties count half."""
    if not positives or not negatives:
        return float("nan")
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def evaluate(rank: Ranker, items: list[Query], fits: float | None = None) -> dict[str, float]:
    """recall@1, recall@5, MRR and "nothing fits" (see the module docstring); with `fits`, also the
    share of answerable queries and of those nothing fits whose top score is below it (what a
    caller is told "nothing fits well" for)."""
    answerable = [q for q in items if q.expect]
    hits1 = hits5 = 0
    reciprocal = 0.0
    top_answerable: list[float] = []
    top_none: list[float] = []
    for query in items:
        ranked = rank(query.text, 10)
        top = ranked[0][1] if ranked else 0.0
        if not query.expect:
            top_none.append(top)
            continue
        top_answerable.append(top)
        names = [name for name, _ in ranked]
        hits1 += bool(names[:1] and names[0] in query.expect)
        hits5 += any(name in query.expect for name in names[:5])
        first = next((i for i, name in enumerate(names) if name in query.expect), None)
        reciprocal += 1 / (first + 1) if first is not None else 0.0
    n = len(answerable)
    flagged = sorted(top_none)[int(0.9 * (len(top_none) - 1))] if top_none else 0.0
    gave_up = sum(score <= flagged for score in top_answerable) / n if n else 0.0
    figures = {
        "recall@1": hits1 / n,
        "recall@5": hits5 / n,
        "mrr": reciprocal / n,
        "none_auroc": auroc(top_answerable, top_none),
        "wrongly_given_up": gave_up,
    }
    if fits is not None:
        figures["told_none_answerable"] = sum(top < fits for top in top_answerable) / n if n else 0.0
        figures["told_none_unanswerable"] = sum(top < fits for top in top_none) / len(top_none) if top_none else 0.0
    return figures


class _Index(Protocol):
    def replace(self, server: str, docs: Iterable[ToolDoc]) -> None: ...


def indexed[I: _Index](index: I, items: list[ToolDoc]) -> I:
    """`index` holding `items`, server by server, as the hub fills it."""
    for server in sorted({doc.server for doc in items}):
        index.replace(server, [doc for doc in items if doc.server == server])
    return index


def hybrid_ranker(items: list[ToolDoc], embedder: Embedder | None = None) -> Ranker:
    """The hub's search (shared.search.hybrid), with its model or `embedder` in its place; each
    hit's score is how well it fits."""
    from shared.search.hybrid import HybridIndex

    index = indexed(HybridIndex() if embedder is None else HybridIndex(embedder), items)
    return lambda query, k: [(hit.doc.name, hit.match) for hit in index.search(query, k, None)]


def tfidf_ranker(items: list[ToolDoc]) -> Ranker:
    """The hub's search before issue 17 (infra/search_eval/tfidf.py: TF-IDF words + n-grams)."""
    from infra.search_eval.tfidf import ToolIndex

    index = indexed(ToolIndex(), items)
    return lambda query, k: [(hit.doc.name, hit.score) for hit in index.search(query, k, None)]


def embedding_ranker(items: list[ToolDoc], queries: Embed | None = None, passages: Embed | None = None) -> Ranker:
    """The embedding model alone: cosine of the query with each tool's name and description. The
    hub's model embeds both unless `queries` (and `passages`, for the tools, if they differ) do."""
    import numpy as np

    from shared.search.embedding import EMBEDDER
    from shared.search.hybrid import embedded_text

    query_rows = queries or EMBEDDER.embed
    vectors = (passages or query_rows)([embedded_text(doc) for doc in items])

    def rank(query: str, k: int) -> list[tuple[str, float]]:
        scores = vectors @ query_rows([query])[0]
        return [(items[int(i)].name, float(scores[i])) for i in np.argsort(-scores)[:k]]

    return rank


def bm25_ranker(items: list[ToolDoc]) -> Ranker:
    """Plain BM25 (bm25s) over each tool's name, description and parameters: the baseline."""
    import bm25s  # here, not at the top: only the evaluation needs it

    corpus = [f"{doc.name.replace('_', ' ').replace('-', ' ')} {doc.description} {doc.parameters}" for doc in items]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False)

    def rank(query: str, k: int) -> list[tuple[str, float]]:
        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        found, scores = retriever.retrieve(tokens, k=min(k, len(items)), show_progress=False)
        return [(items[int(i)].name, float(s)) for i, s in zip(found[0], scores[0], strict=True)]

    return rank
