"""The tool-search evaluation still runs, and the hub's search holds what it measured on real
servers' tools: on the held-out queries (scored once when the ranker tuning ended, and again after
the spelling step) and on the frozen set written after that first look, it stays at those figures
and ahead of BM25 alone and of the previous TF-IDF index. The issue's targets (held-out recall@5
≥ 0.85, recall@1 ≥ 0.6, AUROC ≥ 0.9) are not reached yet; these floors make a regression fail the
build meanwhile. The recommender holds its figures on the needs written for the registry catalog.
The project's own catalog stays a regression set. Latency is reported by `make eval-search`,
never asserted here."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from typing import Any

import pytest

from infra.search_eval.__main__ import main

HUB, BM25, PREVIOUS = "hub (BM25F + embedding, RRF)", "BM25 alone (bm25s)", "previous ToolIndex (TF-IDF)"
# Measured after the spelling step (2026-11-30), rounded down. Held-out had been scored once
# before that step; the typo misses it showed are what the step answers (see the closing note).
FLOORS = {
    "heldout": {"recall@1": 0.47, "recall@5": 0.72, "mrr": 0.56, "none_auroc": 0.77},
    "frozen": {"recall@1": 0.59, "recall@5": 0.84, "mrr": 0.69, "none_auroc": 0.90},
}


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    with redirect_stdout(io.StringIO()) as printed:
        measured = main(["--rounds", "1"])
    return {**measured, "printed": printed.getvalue()}


@pytest.mark.parametrize("split", ["heldout", "frozen"])
def test_search_on_real_servers_tools_holds_its_measured_figures(results: dict[str, Any], split: str) -> None:
    hub = results[f"real, {HUB}, {split}"]
    for figure, floor in FLOORS[split].items():
        assert hub[figure] >= floor, (figure, results["printed"])


@pytest.mark.parametrize("split", ["heldout", "frozen"])
def test_search_on_real_servers_tools_beats_bm25_alone_and_the_previous_index(
    results: dict[str, Any], split: str
) -> None:
    hub = results[f"real, {HUB}, {split}"]
    for other in (BM25, PREVIOUS):
        assert hub["mrr"] > results[f"real, {other}, {split}"]["mrr"], (other, results["printed"])
        assert hub["recall@5"] >= results[f"real, {other}, {split}"]["recall@5"], (other, results["printed"])


def test_the_projects_own_catalog_stays_a_regression_set(results: dict[str, Any]) -> None:
    for label in ("queries", "held out"):
        assert results[f"hub, {label}"]["recall@5"] >= 0.88, results["printed"]
        assert results[f"hub, {label}"]["mrr"] > results[f"keyword baseline, {label}"]["mrr"]


def test_the_recommender_holds_its_figures_on_needs_and_recognises_needs_nothing_fits(
    results: dict[str, Any],
) -> None:
    shipped = results["recommend, recommender (the hub's hybrid ranker)"]
    previous = results["recommend, previous recommender (TF-IDF)"]
    # Measured when the recommender moved to the hybrid ranker (2026-11-30), rounded down.
    for figure, floor in {"recall@1": 0.61, "recall@5": 0.77, "mrr": 0.67, "none_auroc": 0.91}.items():
        assert shipped[figure] >= floor, (figure, results["printed"])
    assert shipped["none_auroc"] > previous["none_auroc"] + 0.1, results["printed"]


def test_the_model_comparison_scores_the_shipped_model_as_make_eval_search_does(results: dict[str, Any]) -> None:
    """`make eval-models` puts each candidate where wordllama sits; for wordllama itself its figures
    must be the shipped ranker's and the embedding baseline's, or the comparison is not like for like."""
    from infra.search_eval.models import measure

    measured = measure("wordllama")
    assert 25 < measured["installed_mb"] < 50, measured
    for split in ("dev", "heldout", "frozen"):
        assert measured["splits"][f"hybrid, {split}"] == results[f"real, {HUB}, {split}"], split
        assert measured["splits"][f"alone, {split}"] == results[f"real, embedding alone (wordllama), {split}"], split


@pytest.mark.parametrize("split", ["heldout", "frozen"])
def test_search_tools_says_nothing_fits_far_more_often_when_nothing_does(results: dict[str, Any], split: str) -> None:
    """At the threshold users see (FITS), "nothing here fits" is said for at least 60 % of the
    queries nothing fits and at most 30 % of the answerable ones (measured: 0.600 / 0.275 held-out,
    0.700 / 0.125 frozen)."""
    said = results[f"real, {HUB}, {split}"]
    assert said["told_none_unanswerable"] >= 0.6, said
    assert said["told_none_answerable"] <= 0.3, said
