"""Regular expressions that run in time linear in the text: RE2 (google-re2), never backtracking.

Every pattern the hub runs on what a client sends goes through here: the deny list's rules, the
redaction patterns, and the `pattern` / `patternProperties` keywords of the JSON Schemas upstreams
publish. Python's `re` backtracks, so `(a+)+$` on a long enough argument holds the worker for
minutes; RE2 answers in microseconds. RE2 has no backreferences or lookaround: a pattern that
uses them does not compile (`LinearPatternError`).
"""

from __future__ import annotations

from functools import lru_cache

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a bad pattern is our exception, not a line on stderr


class LinearPatternError(ValueError):
    """The pattern is not valid RE2 syntax (backreferences and lookaround are not)."""


def compile_linear(pattern: str) -> re2._Regexp[str]:  # pyright: ignore[reportPrivateUsage] - the stubs name the compiled type only privately
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raise LinearPatternError(str(exc) or "not a valid RE2 pattern") from None


@lru_cache(maxsize=512)
def _cached(pattern: str) -> re2._Regexp[str] | None:  # pyright: ignore[reportPrivateUsage] - as above
    try:
        return compile_linear(pattern)
    except LinearPatternError:
        return None


def search(pattern: str, text: str) -> bool | None:
    """Whether `pattern` matches somewhere in `text`; None when RE2 cannot run the pattern."""
    compiled = _cached(pattern)
    return None if compiled is None else compiled.search(text) is not None
