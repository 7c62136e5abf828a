"""Functions route templates (`mcp/{server}`, `{id:int}`, `{name?}`, `{*rest}`) as regular expressions."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

_PARAM = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+)(?:\([^)]*\))?)?(\?)?\}")
_CONSTRAINTS = {
    None: r"[^/]+",
    "alpha": r"[A-Za-z]+",
    "int": r"-?\d+",
    "long": r"-?\d+",
    "bool": r"(?i:true|false)",
    "guid": r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}",
    "double": r"-?\d+(?:\.\d+)?",
    "float": r"-?\d+(?:\.\d+)?",
    "decimal": r"-?\d+(?:\.\d+)?",
}


@dataclass(frozen=True)
class RouteTemplate:
    template: str
    pattern: re.Pattern[str]

    @classmethod
    def compile(cls, prefix: str, template: str) -> RouteTemplate:
        path = "/".join(part for part in (prefix.strip("/"), template.strip("/")) if part)
        regex = ""
        position = 0
        for match in _PARAM.finditer(path):
            regex += re.escape(path[position : match.start()])
            catch_all, name, constraint, optional = match.groups()
            if constraint not in _CONSTRAINTS:
                raise ValueError(f"route constraint {constraint!r} in {template!r} is not supported")
            body = r".*" if catch_all else _CONSTRAINTS[constraint]
            group = f"(?P<{name}>{body})"
            if optional or catch_all:
                if regex.endswith("/"):
                    regex = regex[:-1] + f"(?:/{group})?"
                else:
                    regex += f"{group}?"
            else:
                regex += group
            position = match.end()
        regex += re.escape(path[position:])
        return cls(template, re.compile(f"^/{regex}/?$", re.IGNORECASE))

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.match(path)
        if found is None:
            return None
        return {key: value for key, value in found.groupdict().items() if value is not None}


# Values tried where two parameters meet: one that each common constraint accepts.
_SAMPLES = ("x", "1", "true", "1.5", "00000000-0000-0000-0000-000000000000")
_CATCH_ALL_SPAN = 6  # a catch-all stands for 0..6 segments when looking for overlaps


def _variants(template: str) -> Iterator[list[tuple[str, str]]]:
    """Each concrete shape of a template: segments as ("literal", text) or ("param", regex)."""
    choices: list[list[list[tuple[str, str]]]] = []
    for segment in (part for part in template.strip("/").split("/") if part):
        found = _PARAM.fullmatch(segment)
        if found is None:
            if "{" in segment:  # a parameter inside a segment: treat the segment as a free parameter
                choices.append([[("param", r"[^/]+")]])
            else:
                choices.append([[("literal", segment.lower())]])
            continue
        catch_all, _, constraint, optional = found.groups()
        one = ("param", r"[^/]+" if catch_all else _CONSTRAINTS[constraint])
        if catch_all:
            choices.append([[one] * n for n in range(_CATCH_ALL_SPAN + 1)])
        elif optional:
            choices.append([[], [one]])
        else:
            choices.append([[one]])
    for combination in itertools.product(*choices):
        yield [segment for part in combination for segment in part]


def _witness(a: list[tuple[str, str]], b: list[tuple[str, str]]) -> str | None:
    """A path both shapes match, or None."""
    if len(a) != len(b):
        return None
    path: list[str] = []
    for (kind_a, a_value), (kind_b, b_value) in zip(a, b, strict=True):
        if kind_a == "literal" and kind_b == "literal":
            if a_value != b_value:
                return None
            path.append(a_value)
        elif kind_a == "literal" or kind_b == "literal":
            literal, regex = (a_value, b_value) if kind_a == "literal" else (b_value, a_value)
            if re.fullmatch(regex, literal) is None:
                return None
            path.append(literal)
        else:
            common = next((v for v in _SAMPLES if re.fullmatch(a_value, v) and re.fullmatch(b_value, v)), None)
            if common is None:
                return None
            path.append(common)
    return "/" + "/".join(path)


def overlap(first: str, second: str) -> str | None:
    """A request path both route templates match (so their order would decide), or None."""
    for a in _variants(first):
        for b in _variants(second):
            path = _witness(a, b)
            if path is not None:
                return path
    return None


def ambiguities(routes: Sequence[tuple[str, str, frozenset[str] | None]]) -> list[str]:
    """Every pair of (function, template, methods) that one request could reach either way."""
    found: list[str] = []
    for (name_a, template_a, methods_a), (name_b, template_b, methods_b) in itertools.combinations(routes, 2):
        shared = None if methods_a is None else methods_a if methods_b is None else methods_a & methods_b
        if shared is not None and not shared:
            continue
        path = overlap(template_a, template_b)
        if path is not None:
            verbs = ", ".join(sorted(shared)) if shared else "every method"
            found.append(f"{name_a} ({template_a!r}) and {name_b} ({template_b!r}) both match {path} for {verbs}")
    return found
