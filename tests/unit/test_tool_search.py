"""Tool search: plain-word queries find the right tool, identifiers match in any spelling, tools of
servers the caller cannot see never come back, a changed list is searched at once (embedding only
that server's tools again), and the embedding model loads on the first search, never at start."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shared.search.hybrid import HybridIndex, one_edit
from shared.search.index import Hit, doc_from_tool, words

GITHUB = [
    {"name": "github__create_pull_request", "description": "Open a pull request from a branch",
     "inputSchema": {"type": "object", "properties": {"base": {"description": "branch to merge into"}}}},
    {"name": "github__list_issues", "description": "List issues of a repository, filtered by label or state"},
    {"name": "github__search_code", "description": "Search source code across repositories"},
]  # fmt: skip
JIRA = [
    {"name": "jira__createIssue", "description": "Create a Jira ticket in a project"},
    {"name": "jira__transitionIssue", "description": "Move a ticket to another status, e.g. Done"},
]
HR = [{"name": "hr__salary_report", "description": "Salaries of every employee"}]


def index() -> HybridIndex:
    built = HybridIndex()
    for server, tools in (("github", GITHUB), ("jira", JIRA), ("hr", HR)):
        built.replace(server, [doc_from_tool(server, tool) for tool in tools])
    return built


def names(hits: list[Hit]) -> list[str]:
    return [hit.doc.name for hit in hits]


def test_identifiers_read_as_words_in_any_spelling() -> None:
    assert words("github__create_pull_request") == "github create pull request"
    assert words("transitionIssue") == "transition issue"


def test_a_plain_words_query_finds_the_tool_that_does_it() -> None:
    found = index()
    assert names(found.search("open a PR to merge my branch", 1, None)) == ["github__create_pull_request"]
    assert names(found.search("move ticket to done", 1, None)) == ["jira__transitionIssue"]
    assert names(found.search("grep the codebase", 3, None))[0] == "github__search_code"


def test_a_partial_or_misspelt_identifier_still_matches() -> None:
    assert names(index().search("transitionIssu", 1, None)) == ["jira__transitionIssue"]


def test_tools_of_servers_the_caller_cannot_see_are_never_returned() -> None:
    hits = index().search("salary report of employees", 5, frozenset({"github", "jira"}))
    assert "hr__salary_report" not in names(hits)
    assert names(index().search("salary report of employees", 1, None)) == ["hr__salary_report"]


def test_a_changed_list_is_searched_at_once() -> None:
    found = index()
    assert "jira__deploy_release" not in names(found.search("deploy a release to production", 5, None))
    found.replace("jira", [doc_from_tool("jira", {"name": "jira__deploy_release", "description": "Deploy a release"})])
    assert names(found.search("deploy a release to production", 1, None)) == ["jira__deploy_release"]
    assert "jira__createIssue" not in names(found.search("create a jira ticket", 5, None))


def many_tools(server: str, count: int, topic: str) -> list[dict[str, str]]:
    return [{"name": f"{server}__{topic}_{n}", "description": f"{topic} number {n} of {server}"} for n in range(count)]


def test_tool_search_embeds_again_only_the_server_whose_list_changed() -> None:
    import asyncio

    from shared.hub.tool_search import ToolSearch

    search = ToolSearch()
    tools = many_tools("alpha", 12, "report") + many_tools("beta", 12, "invoice")
    asyncio.run(search.rank(tools, "report number 2", 1))
    (view,) = search._views.values()
    assert view.index.embedded_tools == 24
    changed = [
        *many_tools("alpha", 12, "report"),
        *many_tools("beta", 11, "invoice"),
        {"name": "beta__refund", "description": "refund an invoice"},
    ]
    ranked = asyncio.run(search.rank(changed, "refund an invoice", 1))
    assert ranked[0][0]["name"] == "beta__refund"
    assert view.index.embedded_tools == 24 + 12  # beta's tools only


def test_the_embedding_model_loads_on_the_first_search_never_at_app_start() -> None:
    heavy = "('numpy', 'scipy', 'wordllama')"
    probe = (
        "import sys, function_app, shared.hub.tool_search; from shared.hub.tool_search import ToolSearch; "
        f"print(any(m in sys.modules for m in {heavy})); import asyncio; "
        "asyncio.run(ToolSearch().rank([{'name': 's__t', 'description': 'x'}], 'x', 1)); "
        f"print(all(m in sys.modules for m in {heavy}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.split() == ["False", "True"]


def test_a_tool_named_in_other_words_is_found_through_near_words() -> None:
    found = HybridIndex()
    found.replace("fs", [
        doc_from_tool("fs", {"name": "fs__create_directory", "description": "Create a new directory"}),
        doc_from_tool("fs", {"name": "fs__write_file", "description": "Write text to a file"}),
    ])  # fmt: skip
    found.replace("img", [doc_from_tool("img", {"name": "img__generate_image", "description": "Generate an image"})])
    assert names(found.search("make a new folder", 1, None)) == ["fs__create_directory"]
    assert names(found.search("draw a picture of a fox", 1, None)) == ["img__generate_image"]


def test_each_hit_says_how_well_it_fits_the_query() -> None:
    found = index()
    (fitting,) = found.search("open a pull request from my branch", 1, None)
    (unrelated,) = found.search("order a pizza for the team", 1, None)
    assert fitting.match > unrelated.match


def test_the_hubs_bm25_weights_are_the_ones_bm25s_computes() -> None:
    import bm25s
    import numpy as np

    from infra.search_eval.real_tools.evaluate import docs
    from shared.search.hybrid import bm25_weights, tokens

    rows = [tokens(doc.description) or ["empty"] for doc in docs()]
    vocabulary: dict[str, int] = {}
    for row in rows:
        for word in row:
            vocabulary.setdefault(word, len(vocabulary))
    ours = bm25_weights(rows, vocabulary).toarray()
    reference = bm25s.BM25(k1=1.2, b=0.75)
    reference.index(rows, show_progress=False)
    for word in ("file", "pull", "browser", "search", "empty"):
        expected = reference.get_scores([word])
        assert np.allclose(ours[:, vocabulary[word]], expected, atol=1e-5), word


def test_views_of_different_server_sets_share_one_vector_per_word() -> None:
    import asyncio

    from shared.hub.tool_search import ToolSearch

    search = ToolSearch()
    alpha, beta = many_tools("alpha", 3, "report"), many_tools("beta", 3, "invoice")
    asyncio.run(search.rank(alpha + beta, "report number 2", 1))
    cached = dict(search._word_vectors)
    asyncio.run(search.rank(alpha, "report number 2", 1))  # another caller sees only alpha
    assert len(search._views) == 2
    assert set(search._word_vectors) == set(cached)  # alpha's words were all embedded already
    assert {"report", "invoice", "alpha", "beta"} <= set(cached)


@pytest.mark.parametrize(
    ("typed", "word", "apart"),
    [
        ("isue", "issue", True),  # a letter dropped
        ("issue", "isue", True),  # added
        ("creat", "cheat", True),  # changed
        ("lsit", "list", True),  # two neighbours swapped
        ("staus", "status", True),
        ("list", "list", False),  # the same word
        ("lsti", "list", False),  # two edits
        ("crashing", "caching", False),
    ],
)
def test_one_edit_means_a_letter_added_dropped_changed_or_two_neighbours_swapped(
    typed: str, word: str, apart: bool
) -> None:
    assert one_edit(typed, word) is apart


def spelled(found: HybridIndex, query: str) -> dict[str, str]:
    """The query words `found` reads as misspellings of its tools' words, as search_tools gets them."""
    return found.lookup(query, 1, None)[1]


def test_a_misspelt_query_word_also_searches_for_the_tool_word_one_edit_away() -> None:
    found = index()
    assert spelled(found, "lsit the isues of a repositry") == {
        "lsit": "list",
        "isues": "issues",
        "repositry": "repository",
    }
    assert names(found.search("lsit the isues", 1, None)) == ["github__list_issues"]
    assert names(found.search("creat a jira tiket", 1, None)) == ["jira__createIssue"]


def test_words_the_model_knows_whole_are_never_taken_for_misspellings() -> None:
    found = HybridIndex()
    found.replace("files", [doc_from_tool("files", {"name": "files__raw", "description": "Raw bytes of a file"})])
    assert spelled(found, "draw a bytes chart") == {}  # "draw" is one edit from "raw", and a word
    assert spelled(found, "drawww") == {}  # too far from anything
    assert spelled(found, "rawe bytes") == {"rawe": "raw"}
    assert spelled(found, "files raws") == {}  # a tool word's plural is not a misspelling of it
