"""The real-tools search evaluation's data holds to its own rules (issue 17 §1).

Real servers' tool lists (infra/search_eval/real_tools/tools.json, collected by collect.py) and
the labelled queries (queries.jsonl), written before any ranker was changed.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from infra.search_eval.real_tools.evaluate import auroc

DATA = Path(__file__).resolve().parents[2] / "infra" / "search_eval" / "real_tools"
TOOLS: dict[str, Any] = json.loads((DATA / "tools.json").read_text())
QUERIES = [json.loads(line) for line in (DATA / "queries.jsonl").read_text().splitlines()]
KNOWN = {f"{server}/{tool['name']}" for server, entry in TOOLS.items() for tool in entry["tools"]}


def words(text: str) -> set[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return {w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w}


def test_the_tools_come_from_enough_real_servers() -> None:
    assert len(TOOLS) >= 19
    assert len(KNOWN) >= 180
    assert all(entry["version"] and entry["license"] for entry in TOOLS.values())


def test_the_query_mix_is_the_one_the_issue_asks_for() -> None:
    kinds = Counter(q["kind"] for q in QUERIES)
    assert kinds["paraphrase"] * 2 >= len(QUERIES)
    assert kinds["none"] >= 30
    assert kinds["typo"] >= 10
    assert kinds["multistep"] >= 5
    splits = Counter(q["split"] for q in QUERIES)
    assert splits["heldout"] >= 50
    for split in ("dev", "heldout"):
        assert {q["kind"] for q in QUERIES if q["split"] == split} == set(kinds)


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q["query"][:40])
def test_every_label_names_a_real_tool_and_paraphrases_share_no_word_with_it(query: dict[str, Any]) -> None:
    assert set(query["expect"]) <= KNOWN, set(query["expect"]) - KNOWN
    assert (query["kind"] == "none") == (not query["expect"])
    if query["kind"] == "paraphrase":
        for tool in query["expect"]:
            shared = words(query["query"]) & words(tool.split("/", 1)[1])
            assert not shared, f"{query['query']!r} shares {shared} with {tool}"


def test_nothing_fits_auroc_is_the_chance_an_answerable_query_scores_higher() -> None:
    assert auroc([3.0, 2.0], [1.0]) == 1.0
    assert auroc([1.0], [1.0, 2.0]) == 0.25  # a tie counts half
    assert auroc([0.5], [0.9]) == 0.0


def test_the_frozen_set_names_real_tools_and_has_every_kind_of_query() -> None:
    frozen = [json.loads(line) for line in (DATA / "queries_frozen.jsonl").read_text().splitlines() if line.strip()]
    tools = json.loads((DATA / "tools.json").read_text())
    known = {f"{server}/{tool['name']}" for server, entry in tools.items() for tool in entry["tools"]}
    assert all(q["split"] == "frozen" for q in frozen)
    assert {e for q in frozen for e in q["expect"]} <= known
    kinds = Counter(q["kind"] for q in frozen)
    assert kinds["paraphrase"] * 2 >= len(frozen) - kinds["none"]
    assert kinds["none"] >= 10
    assert all(kinds[kind] for kind in ("typo", "multistep", "direct"))
    assert not {q["query"] for q in frozen} & {q["query"] for q in QUERIES}


def test_the_recommenders_needs_name_servers_of_its_catalog_and_some_have_none() -> None:
    from shared.configure.recommend import catalog

    needs = [json.loads(line) for line in (DATA.parent / "needs.jsonl").read_text().splitlines() if line.strip()]
    names = {entry.registry_name for entry in catalog()}
    assert len(needs) >= 40
    assert all(set(need["expect"]) <= names for need in needs)
    assert sum(not need["expect"] for need in needs) >= 5
