"""`make eval-search`: recall@1, recall@5 and MRR of the hub's tool search on a labelled query set
over a realistic catalog (infra/search_eval/catalog.py), against a keyword baseline measured in
the same run, and search latency with 1,000 tools (the catalog plus look-alike servers).

Targets (issue 7): recall@5 ≥ 0.9, p95 < 20 ms at 1,000 tools.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable

from infra.search_eval.catalog import HELD_OUT, QUERIES, SERVERS
from infra.search_eval.real_tools import evaluate as real
from shared.search.index import ToolDoc, ToolIndex, words

Ranker = Callable[[str, int], list[str]]
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "to",
        "of",
        "in",
        "on",
        "for",
        "my",
        "me",
        "i",
        "is",
        "it",
        "this",
        "that",
        "what",
        "which",
        "with",
        "and",
        "or",
        "do",
        "did",
        "be",
        "by",
        "from",
    ]
)


def catalog_docs(copies: int = 1) -> list[ToolDoc]:
    """The catalog; with `copies` > 1, look-alike servers (`github2`, ...) pad it out."""
    docs: list[ToolDoc] = []
    for copy in range(copies):
        for server, tools in SERVERS.items():
            name = server if copy == 0 else f"{server}{copy + 1}"
            docs += [ToolDoc(name, f"{name}__{tool}", description, "") for tool, description in tools]
    return docs


def hub_ranker(docs: list[ToolDoc]) -> ToolIndex:
    index = ToolIndex()
    by_server: dict[str, list[ToolDoc]] = {}
    for doc in docs:
        by_server.setdefault(doc.server, []).append(doc)
    for server, items in by_server.items():
        index.replace(server, items)
    return index


def keyword_ranker(docs: list[ToolDoc]) -> Ranker:
    """The baseline: how many of the query's words appear in the tool's name and description."""
    texts = [set(re.findall(r"[a-z0-9]+", f"{words(doc.name)} {doc.description}".lower())) for doc in docs]

    def rank(query: str, k: int) -> list[str]:
        terms = {t for t in re.findall(r"[a-z0-9]+", words(query)) if t not in _STOP}
        scored = sorted(((len(terms & text), -i) for i, text in enumerate(texts)), reverse=True)
        return [docs[-i].name for score, i in scored[:k] if score > 0]

    return rank


def score(rank: Ranker, queries: list[tuple[str, set[str]]]) -> dict[str, float]:
    hits1 = hits5 = 0
    reciprocal = 0.0
    for query, expected in queries:
        ranked = rank(query, 10)
        hits1 += bool(ranked[:1] and ranked[0] in expected)
        hits5 += any(name in expected for name in ranked[:5])
        first = next((i for i, name in enumerate(ranked) if name in expected), None)
        reciprocal += 1 / (first + 1) if first is not None else 0.0
    n = len(queries)
    return {"recall@1": hits1 / n, "recall@5": hits5 / n, "mrr": reciprocal / n}


def latency(index: ToolIndex, rounds: int) -> dict[str, float]:
    index.search("warm up", 5, None)  # fits the index (and imports scikit-learn) once
    timings: list[float] = []
    for _ in range(rounds):
        for query, _expected in QUERIES:
            started = time.perf_counter()
            index.search(query, 5, None)
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "p50_ms": statistics.median(timings),
        "p95_ms": timings[int(0.95 * (len(timings) - 1))],
        "max_ms": timings[-1],
    }


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(prog="python -m infra.search_eval")
    parser.add_argument("--rounds", type=int, default=5, help="latency rounds over the query set")
    parser.add_argument("--heldout", action="store_true", help="also score the real tools' held-out queries")
    args = parser.parse_args(argv)
    out = sys.stdout.write
    real_results = real_tools(out, heldout=args.heldout)
    docs = catalog_docs()
    out(f"catalog: {len(SERVERS)} servers, {len(docs)} tools; {len(QUERIES)} + {len(HELD_OUT)} held-out queries\n")
    index = hub_ranker(docs)
    baseline = keyword_ranker(docs)
    results: dict[str, dict[str, float]] = {}
    for label, queries in (("queries", QUERIES), ("held out", HELD_OUT)):
        results[f"hub, {label}"] = score(lambda q, k: [h.doc.name for h in index.search(q, k, None)], queries)
        results[f"keyword baseline, {label}"] = score(baseline, queries)
    out(f"\n{'ranker':<36}{'recall@1':>10}{'recall@5':>10}{'MRR':>8}\n")
    for name, figures in results.items():
        out(f"{name:<36}{figures['recall@1']:>10.3f}{figures['recall@5']:>10.3f}{figures['mrr']:>8.3f}\n")
    big = catalog_docs(copies=5)
    started = time.perf_counter()
    timing = latency(hub_ranker(big), args.rounds)
    fitted = time.perf_counter() - started
    out(f"\nlatency with {len(big)} tools (fitting and all rounds took {fitted:.2f} s)\n")
    out(f"  p50 {timing['p50_ms']:.2f} ms   p95 {timing['p95_ms']:.2f} ms   max {timing['max_ms']:.2f} ms\n")
    for label in ("queries", "held out"):
        hub, base = results[f"hub, {label}"], results[f"keyword baseline, {label}"]
        out(
            f"\ntargets ({label}): recall@5 ≥ 0.9: {'met' if hub['recall@5'] >= 0.9 else 'NOT met'}; "
            f"beats the baseline on MRR: {'yes' if hub['mrr'] > base['mrr'] else 'no'}"
        )
    out(f"\ntarget: p95 < 20 ms at {len(big)} tools: {'met' if timing['p95_ms'] < 20 else 'NOT met'}\n")
    return {**real_results, **results, "latency": timing}


def real_tools(out: Callable[[str], object], *, heldout: bool) -> dict[str, dict[str, float]]:
    """The headline: real servers' tools and queries written before any ranker changed."""
    docs = real.docs()
    index = hub_ranker(docs)

    def hub(query: str, k: int) -> list[tuple[str, float]]:
        return [(hit.doc.name, hit.score) for hit in index.search(query, k, None)]

    rankers = {"hub ToolIndex": hub, "BM25 (bm25s)": real.bm25_ranker(docs)}
    splits = ["dev", "heldout"] if heldout else ["dev"]
    out(f"real tools: {len({d.server for d in docs})} servers, {len(docs)} tools (infra/search_eval/real_tools)\n")
    out(f"{'ranker':<28}{'split':<9}{'recall@1':>9}{'recall@5':>9}{'MRR':>7}{'none AUROC':>11}{'gave up':>9}\n")
    results: dict[str, dict[str, float]] = {}
    for split in splits:
        items = real.queries(split)
        for name, rank in rankers.items():
            figures = results[f"real, {name}, {split}"] = real.evaluate(rank, items)
            out(
                f"{name:<28}{split:<9}{figures['recall@1']:>9.3f}{figures['recall@5']:>9.3f}{figures['mrr']:>7.3f}"
                f"{figures['none_auroc']:>11.3f}{figures['wrongly_given_up']:>9.3f}\n"
            )
    if not heldout:
        out("(held-out queries are not scored until the ranker work ends: --heldout)\n")
    out("\n")
    return results


if __name__ == "__main__":
    main()
