"""Workflows are checked against the tools' schemas; goals split into actions; answers parsed."""

from __future__ import annotations

from typing import Any

import pytest

from shared.configure.workflow import check, clauses, parse_json, search_plan
from shared.mcp.schema import problems

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "repo": {"type": "string", "minLength": 3},
        "count": {"type": "integer", "minimum": 1, "maximum": 10},
        "state": {"enum": ["open", "closed"]},
        "labels": {"type": "array", "items": {"type": "string"}},
        "draft": {"type": "boolean"},
        "ratio": {"type": ["number", "null"]},
    },
    "required": ["repo"],
    "additionalProperties": False,
}
TOOLS = {
    "gh__create_issue": {"name": "gh__create_issue", "inputSchema": SCHEMA},
    "chat__post": {"name": "chat__post", "inputSchema": {"type": "object", "required": ["text"]}},
}


def test_arguments_that_fit_the_schema_have_no_problems() -> None:
    fits = {"repo": "hub", "count": 3, "state": "open", "labels": ["bug"], "draft": False, "ratio": None}
    assert problems(SCHEMA, fits) == []
    assert problems(SCHEMA, {"repo": "hub", "count": 2.0}) == []  # JSON has one number type


def test_each_misfit_is_named_with_its_path() -> None:
    found = problems(SCHEMA, {"count": True, "state": "merged", "labels": ["x", 2], "extra": 1, "ratio": "a"})
    assert found == [  # in the schema's keyword order, as jsonschema reports them
        "arguments.count must be an integer, not a boolean",
        "arguments.state must be one of 'open', 'closed'",
        "arguments.labels[1] must be a string, not an integer",
        "arguments.ratio must be number or null, not a string",
        "arguments.repo is required",
        "arguments.extra is not a parameter of this tool",
    ]
    assert problems(SCHEMA, {"repo": "ab", "count": 11}) == [
        "arguments.repo must be at least 3 characters",
        "arguments.count must be at most 10",
    ]


def test_a_reference_to_an_earlier_steps_result_fits_any_type() -> None:
    assert problems(SCHEMA, {"repo": "{{step1.result}}", "count": "{{step2.result.count}}"}, placeholders=True) == []
    assert problems(SCHEMA, {"count": "{{step2.result}}"}, placeholders=True) == ["arguments.repo is required"]
    assert problems(SCHEMA, {"repo": "{{step1.result}}"}) == []  # minLength 3: the text fits as written
    assert problems(SCHEMA, {"repo": "abc", "count": "{{step2.result}}"}) == [
        "arguments.count must be an integer, not a string"
    ]


def test_the_draft_the_schema_declares_is_the_one_applied() -> None:
    # Draft 4 reads exclusiveMaximum as a boolean beside maximum; 2020-12 (the default) as a number.
    draft4 = {"$schema": "http://json-schema.org/draft-04/schema#", "maximum": 5, "exclusiveMaximum": True}
    assert problems(draft4, 5) != []
    assert problems({"exclusiveMaximum": 5}, 5) != []
    assert problems({"exclusiveMaximum": 5}, 4) == []
    assert problems(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", "prefixItems": [{"type": "string"}]}, [1]
    )


def test_a_schema_that_is_itself_invalid_or_refers_outside_judges_nothing() -> None:
    assert problems({"type": "no-such-type"}, 1) == []
    assert problems({"$ref": "https://example.com/elsewhere.json"}, 1) == []  # nothing is fetched


def test_schema_patterns_run_in_linear_time_on_hostile_arguments() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string", "pattern": "^(a+)+$"}}}
    # Python's re takes minutes on this (catastrophic backtracking); RE2 answers at once.
    assert problems(schema, {"q": "a" * 50_000 + "!"}) == ["arguments.q must match the pattern '^(a+)+$'"]
    assert problems(schema, {"q": "aaa"}) == []
    keyed = {"type": "object", "patternProperties": {"^(x+)+$": {"type": "integer"}}, "additionalProperties": False}
    assert problems(keyed, {"xxx": 1}) == []
    assert problems(keyed, {"xxx": "1", "y": 1}) == [
        "arguments.xxx must be an integer, not a string",
        "arguments.y is not a parameter of this tool",
    ]


def test_a_goal_splits_into_actions_but_not_at_every_and() -> None:
    assert clauses("find the failing test, open an issue and then tell the team") == [
        "find the failing test",
        "open an issue",
        "tell the team",
    ]
    assert clauses("search issues and pull requests") == ["search issues and pull requests"]


def test_checked_steps_name_unknown_tools_and_bad_arguments() -> None:
    steps = check(
        [
            {"tool": "gh__create_issue", "arguments": {"repo": "hub"}, "purpose": "file it"},
            {"tool": "gh__delete_repo", "arguments": {}},
            {"tool": "chat__post", "arguments": {}},
        ],
        TOOLS,
    )
    assert [step.problems for step in steps] == [
        [],
        ["step 2: there is no tool 'gh__delete_repo' among the tools you can use"],
        ["step 3: arguments.text is required"],
    ]
    with pytest.raises(ValueError, match="no 'steps' list"):
        check({"tool": "x"}, TOOLS)


def test_the_json_in_a_chatty_answer_is_found() -> None:
    assert parse_json('Sure!\n```json\n{"steps": []}\n```') == {"steps": []}
    with pytest.raises(ValueError, match="no JSON object"):
        parse_json("I cannot help with that")


@pytest.mark.anyio
async def test_search_plans_one_step_per_action_and_names_what_to_fill_in() -> None:
    async def rank(query: str, k: int) -> list[dict[str, Any]]:
        return [TOOLS["chat__post" if "tell" in query else "gh__create_issue"]]

    steps = await search_plan("open an issue, then tell the team", rank, TOOLS)
    assert [(s.tool, s.missing) for s in steps] == [("gh__create_issue", ["repo"]), ("chat__post", ["text"])]
