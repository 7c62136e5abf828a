"""Tool arguments against a tool's `inputSchema`, with jsonschema and the draft the schema declares.

One validator for everything that judges arguments: the `schema` plugin (calls, before they reach
the upstream) and the workflow planner (plan steps, before anyone runs them). The draft is the
schema's `$schema`, 2020-12 when it names none (as MCP says). `$ref`s resolve inside the schema
only: nothing is fetched. A schema that is itself invalid, or refers outside itself, judges
nothing: the upstream stays the final word.

The schemas come from upstreams and the arguments from clients, so `pattern`, `patternProperties`
and `additionalProperties` (which reads `patternProperties`) run on RE2 (`shared.linear_regex`)
instead of jsonschema's backtracking `re`; a pattern RE2 cannot run is not judged. Left on `re`:
`unevaluatedProperties` next to `patternProperties`, which no tool schema seen so far uses.

Problems read as sentences with the argument's path (`arguments.labels[1] must be a string, not
an integer`), so a model can repair its call. With `placeholders`, a string `{{...}}` (e.g.
`{{step1.result}}`) stands for a value an earlier plan step produces and fits wherever a value
goes, since its type is known only at run time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.protocols import Validator
from referencing.exceptions import Unresolvable

from shared.linear_regex import search

_REFERENCE = re.compile(r"^\{\{[^{}]+\}\}$")
# Errors about an object's own keys, which a placeholder among its values cannot excuse.
_STRUCTURAL = frozenset({"required", "additionalProperties", "dependentRequired", "minProperties", "maxProperties"})
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


def validator_for(schema: object) -> Validator | None:
    """A validator for `schema` under the draft it declares, or None when it cannot judge anything."""
    if not isinstance(schema, dict):
        return None
    spec = cast(dict[str, Any], schema)
    cls = validators.validator_for(spec, default=Draft202012Validator)
    try:
        cls.check_schema(spec)
    except SchemaError:
        return None
    return _linear(cls)(spec)


_LINEAR: dict[type[Validator], type[Validator]] = {}
# A keyword's check as jsonschema calls it: the validator (its `descend` is not in the Protocol), the
# keyword's value, the instance, the schema holding the keyword.
Keyword = Callable[[Any, Any, Any, Any], Iterable[ValidationError]]


def _linear(cls: type[Validator]) -> type[Validator]:
    """`cls` with its regular-expression keywords on RE2."""
    found = _LINEAR.get(cls)
    if found is None:
        keywords: dict[str, Keyword] = {
            "pattern": _pattern,
            "patternProperties": _pattern_properties,
            "additionalProperties": _additional_properties,
        }
        extend: Any = validators.extend  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType] - typed loosely in the stubs
        found = _LINEAR[cls] = cast(type[Validator], extend(cls, keywords))
    return found


def _matches(pattern: object, text: str) -> bool | None:
    return search(pattern, text) if isinstance(pattern, str) else None


def _pattern(validator: Any, pattern: object, instance: object, schema: object) -> Iterable[ValidationError]:
    if isinstance(instance, str) and _matches(pattern, instance) is False:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: object, instance: object, schema: object
) -> Iterable[ValidationError]:
    if not isinstance(instance, dict) or not isinstance(patterns, dict):
        return
    for pattern, subschema in cast(dict[str, Any], patterns).items():
        for key, value in cast(dict[str, Any], instance).items():
            if _matches(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, allowed: object, instance: object, schema: object
) -> Iterable[ValidationError]:
    if not isinstance(instance, dict):
        return
    extras = _extras(schema, cast(dict[str, Any], instance))
    if isinstance(allowed, dict):
        for extra in extras:
            yield from validator.descend(cast(dict[str, Any], instance)[extra], allowed, path=extra)
    elif allowed is False and extras:
        yield ValidationError(f"additional properties are not allowed ({', '.join(map(repr, sorted(extras)))})")


def problems(schema: object, value: object, *, placeholders: bool = False) -> list[str]:
    """What is wrong with `value` under `schema`, one sentence each (empty: it fits)."""
    checker = validator_for(schema)
    return [] if checker is None else judge(checker, value, placeholders=placeholders)


def judge(checker: Validator, value: object, *, placeholders: bool = False) -> list[str]:
    """`problems` with a validator made once (the schema plugin keeps one per tool)."""
    found: list[str] = []
    try:
        errors = list(checker.iter_errors(cast(Any, value)))
    except Unresolvable:
        return []  # a $ref outside the schema: not judged here
    for error in errors:
        if placeholders and error.validator not in _STRUCTURAL and _holds_reference(error.instance):
            continue
        for sentence in _sentences(error):
            if sentence not in found:
                found.append(sentence)
    return found


def _holds_reference(value: object) -> bool:
    if is_reference(value):
        return True
    if isinstance(value, dict):
        return any(_holds_reference(v) for v in cast(dict[str, Any], value).values())
    if isinstance(value, list):
        return any(_holds_reference(v) for v in cast(list[Any], value))
    return False


def _path(parts: Iterable[str | int]) -> str:
    return "arguments" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _sentences(error: ValidationError) -> list[str]:
    path, instance, wanted = _path(error.absolute_path), error.instance, error.validator_value
    kind = error.validator
    if kind == "required" and isinstance(instance, dict):
        names = cast(list[Any], wanted) if isinstance(wanted, list) else []
        return [f"{path}.{name} is required" for name in names if name not in instance]
    if kind == "additionalProperties" and wanted is False and isinstance(instance, dict):
        extras = _extras(error.schema, cast(dict[str, Any], instance))
        return [f"{path}.{name} is not a parameter of this tool" for name in extras]
    if kind == "type":
        return [f"{path} must be {_describe(wanted)}, not {_name_of(instance)}"]
    if kind == "enum" and isinstance(wanted, list):
        return [f"{path} must be one of {', '.join(repr(o) for o in cast(list[Any], wanted)[:10])}"]
    if kind == "const":
        return [f"{path} must be {wanted!r}"]
    if kind == "pattern":
        return [f"{path} must match the pattern {wanted!r}"]
    bounds = {"minLength": "at least {} characters", "maxLength": "at most {} characters"}
    bounds |= {"minimum": "at least {}", "maximum": "at most {}", "minItems": "at least {} items"}
    if kind in bounds:
        return [f"{path} must be {bounds[str(kind)].format(wanted)}"]
    message = error.message  # jsonschema's own words quote the value: keep them short
    return [f"{path}: {message if len(message) <= 300 else message[:300] + '…'}"]


def _extras(schema: object, instance: Mapping[str, Any]) -> list[str]:
    """The keys of `instance` that neither `properties` nor `patternProperties` of `schema` cover."""
    spec = cast(dict[str, Any], schema) if isinstance(schema, dict) else {}
    declared = cast(dict[str, Any], spec.get("properties") or {})
    patterns = list(cast(dict[str, Any], spec.get("patternProperties") or {}))
    return [n for n in instance if n not in declared and not any(_matches(p, n) for p in patterns)]


def _describe(wanted: object) -> str:
    if isinstance(wanted, list):
        return " or ".join(str(w) for w in cast(list[object], wanted))
    return f"{'an' if str(wanted)[:1] in ('a', 'e', 'i', 'o', 'u') else 'a'} {wanted}"


def _name_of(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    for name, kinds in _TYPES.items():
        if isinstance(value, kinds) and name != "number":
            return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"
    return "a number"
