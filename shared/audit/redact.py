"""What may be stored of a call's arguments and results when an operator turns capture on.

Values under names that look like secrets, and strings that look like tokens, are replaced;
long strings are cut. The aim is a record an auditor can read that holds no credential.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"
_SECRET_NAME = re.compile(r"pass|secret|token|api[-_]?key|auth|credential|cookie|session|private", re.IGNORECASE)
# JWTs, bearer values, and long unbroken base64/hex runs (keys, PATs such as ghp_...).
_TOKEN_LIKE = re.compile(
    r"eyJ[\w-]+\.[\w-]+\.[\w-]*|(?i:bearer)\s+\S+|\b(?:gh[pousr]|xox[abp]|sk|pk)[-_][\w-]{10,}|[A-Za-z0-9+/=_-]{40,}"
)
_MAX_TEXT = 200
_MAX_ITEMS = 50
_MAX_DEPTH = 6


def redact(value: Any, *, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        items = list(value.items())[:_MAX_ITEMS]  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType] - JSON of unknown shape: isinstance narrows the container, not its items
        return {
            str(k): REDACTED if _SECRET_NAME.search(str(k)) else redact(v, depth=depth + 1)  # pyright: ignore[reportUnknownArgumentType] - JSON of unknown shape: isinstance narrows the container, not its items
            for k, v in items  # pyright: ignore[reportUnknownVariableType] - JSON of unknown shape: isinstance narrows the container, not its items
        }
    if isinstance(value, list | tuple):
        return [redact(v, depth=depth + 1) for v in value[:_MAX_ITEMS]]  # pyright: ignore[reportUnknownVariableType] - JSON of unknown shape: isinstance narrows the container, not its items
    if isinstance(value, str):
        return text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return text(str(value))


def secret_name(name: str) -> bool:
    """Whether a setting or field of this name likely holds a secret."""
    return _SECRET_NAME.search(name) is not None


def redact_tokens(value: str) -> str:
    return _TOKEN_LIKE.sub(REDACTED, value)


def text(value: str, limit: int = _MAX_TEXT) -> str:
    cleaned = redact_tokens(value)
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "…"


def result_text(result: Any) -> str:
    """The text parts of a tool result, redacted and cut."""
    if not isinstance(result, dict):
        return ""
    content = result.get("content")  # pyright: ignore[reportUnknownVariableType, reportUnknownMemberType] - JSON of unknown shape: isinstance narrows the container, not its items
    if not isinstance(content, list):
        return ""
    parts = [
        str(item.get("text", ""))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType] - JSON of unknown shape: isinstance narrows the container, not its items
        for item in content  # pyright: ignore[reportUnknownVariableType] - JSON of unknown shape: isinstance narrows the container, not its items
        if isinstance(item, dict) and item.get("type") == "text"  # pyright: ignore[reportUnknownMemberType] - JSON of unknown shape: isinstance narrows the container, not its items
    ]
    return text(" ".join(parts), 500)
