"""The small HTML pages of sign-in, consent and connect: one shell, one set of protective headers.

Every such page may show a form that acts as the signed-in person, so none may be framed
(X-Frame-Options and CSP frame-ancestors), nothing on it loads from elsewhere, and it is not cached.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from shared.http import HttpOut

PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    # No form-action: browsers apply it to the redirect that follows a form (to the identity provider).
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
}


def page(status: int, title: str, body: str, headers: Mapping[str, str] | None = None) -> HttpOut:
    """A page titled `title` (escaped here) around `body` (HTML the caller escaped)."""
    document = (
        '<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f"<title>{html.escape(title)} · MCPHub</title>"
        '<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem">'
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HttpOut(status, {**PAGE_HEADERS, **(headers or {})}, document.encode())
