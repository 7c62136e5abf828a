"""Redirect URIs judged as a browser will read them.

An authorization code goes wherever the browser takes the redirect, so the hub must read each
redirect URI exactly as the browser does. Python's `urlsplit` does not (it sees host 127.0.0.1 in
`http://evil.example\\@127.0.0.1/cb`, a browser sees evil.example), so every URI is parsed with
ada (`ada-url`), the WHATWG URL parser Node.js uses, and accepted only when:

- it is printable ASCII: no whitespace or control characters (WHATWG strips some silently), no
  non-ASCII (IDN and full-width look-alikes map onto other hosts), no backslash (a path separator to
  a browser, part of the authority to `urlsplit`), no fragment, no user information, no `%` in the
  authority;
- it is already in its WHATWG serialisation (what is sent is what the browser reads: no `127.1`,
  `0x7f.1`, `LOCALHOST`, dot segments, default ports...), and `urlsplit` agrees on every part, so
  no other code of the hub can read it differently;
- it is a loopback address on http with the host written `127.0.0.1`, `[::1]` or `localhost`
  (RFC 8252 §7.3), a custom scheme of a known IDE, or one of the listed web redirects.

Matching (`redirect_matches`) compares these canonical forms: exactly, except that for a loopback
URI the port alone may differ (RFC 8252 §7.3); scheme, host literal, path and query must be equal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ada_url import URL

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]", "localhost"})
MAX_LENGTH = 2000
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")


class RedirectRefused(ValueError):
    """A redirect URI the hub will not send a code to; the message says why."""


@dataclass(frozen=True, slots=True)
class Redirect:
    """A redirect URI in canonical form, with the parts matching compares."""

    href: str
    scheme: str
    host: str
    port: str
    path: str
    query: str

    @property
    def loopback(self) -> bool:
        return self.scheme == "http" and self.host in LOOPBACK_HOSTS


def parse_redirect(uri: object) -> Redirect:
    """The canonical redirect, or RedirectRefused when a browser could read `uri` differently from us."""
    if not isinstance(uri, str) or not uri:
        raise RedirectRefused("a redirect URI must be a non-empty string")
    if len(uri) > MAX_LENGTH:
        raise RedirectRefused(f"a redirect URI must be at most {MAX_LENGTH} characters")
    if not _PRINTABLE_ASCII.fullmatch(uri):
        raise RedirectRefused("a redirect URI must be printable ASCII, without spaces or control characters")
    if "\\" in uri:
        raise RedirectRefused("a redirect URI must not contain a backslash")
    if "#" in uri:
        raise RedirectRefused("a redirect URI must not have a fragment")
    try:
        url = URL(uri)
    except ValueError:
        raise RedirectRefused("a redirect URI must be an absolute URL") from None
    if url.username or url.password or "@" in _authority(uri):
        raise RedirectRefused("a redirect URI must not carry user information (user@host)")
    if "%" in _authority(uri):
        raise RedirectRefused("a redirect URI must not percent-encode its host")
    if url.href != uri:
        raise RedirectRefused(f"a redirect URI must be in canonical form: a browser reads it as {url.href!r}")
    scheme = url.protocol.removesuffix(":")
    redirect = Redirect(uri, scheme, url.hostname, url.port, url.pathname, url.search)
    _agrees_with_urlsplit(uri, redirect)
    if any(label.startswith("xn--") for label in redirect.host.split(".")):
        raise RedirectRefused("a redirect URI must not use an internationalised (punycode) host")
    return redirect


def _authority(uri: str) -> str:
    """The raw text between `scheme://` and the next `/`, `?` or end (empty when there is none)."""
    _, sep, rest = uri.partition("://")
    return re.split(r"[/?]", rest, maxsplit=1)[0] if sep else ""


def _agrees_with_urlsplit(uri: str, redirect: Redirect) -> None:
    parts = urlsplit(uri)
    try:
        port = str(parts.port or "")
    except ValueError:
        port = "?"
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    split = (parts.scheme, host, port, parts.path or "", f"?{parts.query}" if parts.query else "")
    ours = (redirect.scheme, redirect.host.lower(), redirect.port, redirect.path, redirect.query)
    if split != ours:
        raise RedirectRefused("a redirect URI must parse the same way in every URL parser")


def check_redirect(uri: object, schemes: Sequence[str], web: Sequence[str]) -> Redirect:
    """A redirect URI a client may register: canonical, and loopback, an IDE scheme or a listed web redirect."""
    redirect = parse_redirect(uri)
    if redirect.loopback or redirect.href in web:
        return redirect
    if redirect.scheme in schemes and redirect.scheme not in ("http", "https"):
        return redirect
    raise RedirectRefused(
        f"redirect URI {redirect.href!r} is not allowed: use a loopback address (http://127.0.0.1:<port>/...), "
        f"one of the IDE schemes {', '.join(schemes)}, or a listed web redirect (MCPHUB_AUTH__WEB_REDIRECTS)"
    )


def redirect_matches(asked: Redirect, registered: Sequence[str]) -> bool:
    """Exact match on the canonical form; a loopback redirect may change its port alone (RFC 8252 §7.3)."""
    if asked.href in registered:
        return True
    if not asked.loopback:
        return False
    for uri in registered:
        try:
            known = parse_redirect(uri)
        except RedirectRefused:
            continue  # registered before these rules: never matched
        if known.loopback and (known.scheme, known.host, known.path, known.query) == (
            asked.scheme,
            asked.host,
            asked.path,
            asked.query,
        ):
            return True
    return False


def loopback_origin(origin: str) -> bool:
    """An Origin header naming this machine, read as the browser that sent it wrote it: a serialised
    origin (scheme://host[:port], nothing else) whose host is literally a loopback name or address."""
    try:
        url = URL(origin)
    except ValueError:
        return False  # "null", garbage
    return url.origin == origin and url.protocol in ("http:", "https:") and url.hostname in LOOPBACK_HOSTS
