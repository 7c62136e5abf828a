"""Workflows: an ordered plan of tool calls for a stated goal, checked against the tools' schemas.

Two authors: the client's model (through MCP sampling, see `shared.hub.assistant`) or, without
one, tool search alone: the goal is cut into clauses ("… then …", "… and …") and each clause gets
its best matching tool, with the required arguments left for the caller to fill in.
Either way every step is checked here: the tool must be one the caller can see, and the
arguments must fit its `inputSchema`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from shared.mcp.schema import problems

MAX_STEPS = 12
# Action boundaries; a bare "and" is not one ("search issues and pull requests" is one action).
_CLAUSE = re.compile(
    r"(?:[.;]\s+|,\s*(?:and\s+)?|\s+(?:and then|then|after that|afterwards|finally)\s+)", re.IGNORECASE
)

Tool = Mapping[str, Any]
Rank = Callable[[str, int], Awaitable[Sequence[Tool]]]  # query, k → the best tools, best first


@dataclass
class Step:
    tool: str
    arguments: dict[str, Any]
    purpose: str
    problems: list[str] = field(default_factory=list[str])
    missing: list[str] = field(default_factory=list[str])  # required arguments left to fill in

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tool": self.tool, "arguments": self.arguments, "purpose": self.purpose}
        if self.missing:
            out["fillIn"] = self.missing
        if self.problems:
            out["problems"] = self.problems
        return out


def clauses(goal: str) -> list[str]:
    """The parts of a goal that read as separate actions, in order."""
    parts = [part.strip(" ,.") for part in _CLAUSE.split(goal)]
    return [part for part in parts if len(part) > 2][:MAX_STEPS] or [goal.strip()]


async def search_plan(goal: str, rank: Rank, tools: Mapping[str, Tool]) -> list[Step]:
    """One step per clause: its best tool, with required arguments named for the caller to fill in."""
    steps: list[Step] = []
    for clause in clauses(goal):
        best = await rank(clause, 1)
        if not best:
            continue
        name = str(best[0].get("name"))
        if steps and steps[-1].tool == name:
            continue  # two clauses describing the same action
        schema = tools[name].get("inputSchema") if name in tools else None
        spec = cast(dict[str, Any], schema) if isinstance(schema, dict) else {}
        required = cast(list[Any], spec.get("required") or [])
        steps.append(Step(name, {}, clause, missing=[str(r) for r in required]))
    return steps


def check(raw_steps: object, tools: Mapping[str, Tool]) -> list[Step]:
    """The model's steps as Steps, each with what is wrong with it (unknown tool, bad arguments)."""
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ValueError("the plan has no 'steps' list")
    steps: list[Step] = []
    for index, raw in enumerate(cast(list[object], raw_steps)[:MAX_STEPS], start=1):
        if not isinstance(raw, dict):
            raise ValueError(f"step {index} is not an object")
        item = cast(dict[str, Any], raw)
        name, arguments = str(item.get("tool") or ""), item.get("arguments", {})
        given: dict[str, Any] = cast(dict[str, Any], arguments) if isinstance(arguments, dict) else {}
        step = Step(name, given, str(item.get("purpose") or ""))
        if name not in tools:
            step.problems.append(f"step {index}: there is no tool {name!r} among the tools you can use")
        elif not isinstance(arguments, dict):
            step.problems.append(f"step {index}: 'arguments' must be an object")
        else:
            schema = tools[name].get("inputSchema")
            step.problems.extend(f"step {index}: {p}" for p in problems(schema, step.arguments, placeholders=True))
        steps.append(step)
    return steps


def parse_json(text: str) -> dict[str, Any]:
    """The JSON object in a model's answer (code fences and chatter around it are ignored)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("the answer holds no JSON object")
    value = json.loads(text[start : end + 1])
    if not isinstance(value, dict):
        raise ValueError("the answer's JSON is not an object")
    return cast(dict[str, Any], value)


def describe(steps: list[Step]) -> str:
    """The plan as numbered lines a person can read."""
    lines: list[str] = []
    for number, step in enumerate(steps, start=1):
        arguments = json.dumps(step.arguments, ensure_ascii=False) if step.arguments else "{}"
        line = f"{number}. {step.tool} {arguments} — {step.purpose}"
        if step.missing:
            line += f" (fill in: {', '.join(step.missing)})"
        if step.problems:
            line += f" [problems: {'; '.join(step.problems)}]"
        lines.append(line)
    return "\n".join(lines) or "No tool fits this goal."
