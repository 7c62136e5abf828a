"""How upstream names appear on the aggregated endpoint, and how they map back.

Tools and prompts become `{namespace}__{name}`. Clients reject names over 64 characters or outside
`[A-Za-z0-9_-]` (Cursor, OpenAI), so other characters become `_` and over-long names are cut and
given a short hash suffix; the catalog keeps the exposed → original map for those.
Resource URIs become `mcphub://{server}/{original uri}`, which maps back without any state.
"""

from __future__ import annotations

import hashlib
import re

SEPARATOR = "__"
MAX_NAME = 64
URI_SCHEME = "mcphub://"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def exposed_name(namespace: str, name: str) -> str:
    full = f"{namespace}{SEPARATOR}{name}"
    safe = _UNSAFE.sub("_", full)
    if safe == full and len(full) <= MAX_NAME:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{safe[: MAX_NAME - 9]}-{digest}"


def is_verbatim(namespace: str, name: str) -> bool:
    return exposed_name(namespace, name) == f"{namespace}{SEPARATOR}{name}"


def safe_prefix(namespace: str) -> str:
    """How every exposed name of a namespace starts, sanitised or not."""
    return _UNSAFE.sub("_", f"{namespace}{SEPARATOR}")[: MAX_NAME - 9]


def split_name(exposed: str) -> tuple[str, str] | None:
    """(namespace, original) for a name that `exposed_name` passed through unchanged."""
    namespace, sep, name = exposed.partition(SEPARATOR)
    if not sep or not namespace or not name:
        return None
    return namespace, name


def exposed_uri(server: str, uri: str) -> str:
    return f"{URI_SCHEME}{server}/{uri}"


def split_uri(uri: str) -> tuple[str, str] | None:
    if not uri.startswith(URI_SCHEME):
        return None
    server, sep, original = uri[len(URI_SCHEME) :].partition("/")
    if not sep or not server or not original:
        return None
    return server, original
