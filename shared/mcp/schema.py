"""Checking tool arguments against a tool's `inputSchema` (the JSON Schema subset tools use).

Used to check a generated workflow before anyone runs it: what a plan step would send must be what
the tool accepts. Covers `type` (one or a list), `required`, `properties`, `additionalProperties:
false`, `enum`, `const`, `items`, `minimum`/`maximum`, `minLength`/`maxLength`. Anything else
(`$ref`, `oneOf`, formats) is not judged: the upstream remains the final word.

A string `{{...}}` (e.g. `{{step1.result}}`) stands for a value an earlier step produces and is
accepted wherever a value goes, since its type is only known at run time.
"""

from __future__ import annotations

import re
from typing import Any, cast

_REFERENCE = re.compile(r"^\{\{[^{}]+\}\}$")
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def is_reference(value: object) -> bool:
    return isinstance(value, str) and _REFERENCE.match(value) is not None


def problems(schema: object, value: object, path: str = "arguments") -> list[str]:
    """What is wrong with `value` under `schema`, one sentence each (empty: it fits)."""
    if not isinstance(schema, dict) or is_reference(value):
        return []
    spec = cast(dict[str, Any], schema)
    found: list[str] = []
    wanted = spec.get("type")
    if wanted is not None and not _has_type(value, wanted):
        return [f"{path} must be {_describe(wanted)}, not {_name_of(value)}"]
    if "enum" in spec and isinstance(spec["enum"], list) and value not in spec["enum"]:
        options = ", ".join(repr(option) for option in cast(list[Any], spec["enum"])[:10])
        found.append(f"{path} must be one of {options}")
    if "const" in spec and value != spec["const"]:
        found.append(f"{path} must be {spec['const']!r}")
    if isinstance(value, dict):
        found.extend(_object_problems(spec, cast(dict[str, Any], value), path))
    elif isinstance(value, list) and isinstance(spec.get("items"), dict):
        for index, item in enumerate(cast(list[Any], value)):
            found.extend(problems(spec["items"], item, f"{path}[{index}]"))
    elif isinstance(value, str):
        found.extend(_bounds(spec, len(value), path, "minLength", "maxLength", " characters"))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        found.extend(_bounds(spec, value, path, "minimum", "maximum", ""))
    return found


def _object_problems(spec: dict[str, Any], value: dict[str, Any], path: str) -> list[str]:
    found: list[str] = []
    properties = cast(dict[str, Any], spec.get("properties") or {})
    required = spec.get("required")
    names = cast(list[Any], required) if isinstance(required, list) else []
    found.extend(f"{path}.{name} is required" for name in names if name not in value)
    for name, item in value.items():
        if name in properties:
            found.extend(problems(properties[name], item, f"{path}.{name}"))
        elif spec.get("additionalProperties") is False:
            found.append(f"{path}.{name} is not a parameter of this tool")
    return found


def _bounds(spec: dict[str, Any], size: float, path: str, low: str, high: str, unit: str) -> list[str]:
    found: list[str] = []
    minimum, maximum = spec.get(low), spec.get(high)
    if isinstance(minimum, int | float) and size < minimum:
        found.append(f"{path} must be at least {minimum}{unit}")
    if isinstance(maximum, int | float) and size > maximum:
        found.append(f"{path} must be at most {maximum}{unit}")
    return found


def _has_type(value: object, wanted: object) -> bool:
    names = [wanted] if isinstance(wanted, str) else cast(list[object], wanted) if isinstance(wanted, list) else []
    for name in names:
        if name == "null" and value is None:
            return True
        kinds = _TYPES.get(name) if isinstance(name, str) else None
        if kinds is None:
            continue
        if isinstance(value, bool) and name != "boolean":
            continue  # JSON booleans are not numbers, though Python's are ints
        if name == "integer" and isinstance(value, float) and value.is_integer():
            return True
        if isinstance(value, kinds):
            return True
    return not names  # a type the checker does not know is not judged


def _describe(wanted: object) -> str:
    if isinstance(wanted, list):
        return " or ".join(str(w) for w in cast(list[object], wanted))
    return f"{'an' if str(wanted)[0] in 'aeiou' else 'a'} {wanted}"


def _name_of(value: object) -> str:
    if value is None:
        return "null"
    for name, kinds in _TYPES.items():
        if isinstance(value, bool):
            return "a boolean"
        if isinstance(value, kinds) and name != "number":
            return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"
    return "a number"
