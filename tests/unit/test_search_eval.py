"""The tool-search evaluation still runs and the search still meets its recall targets on both the
tuning queries and the held-out ones, ahead of the keyword baseline (latency is reported by
`make eval-search`, never asserted here)."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

from infra.search_eval.__main__ import main


def test_tool_search_finds_the_right_tool_in_its_top_five_for_nine_queries_in_ten() -> None:
    with redirect_stdout(io.StringIO()) as printed:
        results = main(["--rounds", "1"])
    for label in ("queries", "held out"):
        assert results[f"hub, {label}"]["recall@5"] >= 0.9, printed.getvalue()
        assert results[f"hub, {label}"]["mrr"] > results[f"keyword baseline, {label}"]["mrr"]
