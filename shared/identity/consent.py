"""Consent before the facade forwards a sign-in for an application the user has not approved.

The facade signs every IDE in to Entra under the hub's one static client, so Entra's own consent
never tells one IDE from another. Without a consent step of its own, a link to `/oauth/authorize`
naming an attacker's freshly registered client would sign a victim in silently (MCP security best
practices, "confused deputy"). So before forwarding, the hub asks: which application, where it will
send the browser back to, what it gets. The approval is remembered in this browser (a sealed
cookie listing approved client IDs, each for `remember_days`), and recorded per user at sign-in.

The page may not be framed (X-Frame-Options, CSP frame-ancestors), and the answer is accepted only
with the form's sealed token matching a SameSite=Strict, HttpOnly nonce cookie (no CSRF).
"""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from shared.http import HttpOut
from shared.identity.grants import GrantStore
from shared.identity.pages import page
from shared.sealing import Sealer, SealError

APPROVED_COOKIE = "mcphub_consent"
NONCE_COOKIE = "mcphub_consent_nonce"
ASK_SECONDS = 600


@dataclass(frozen=True, slots=True)
class Answer:
    approved: bool
    query: dict[str, str]  # the authorization request the person answered
    set_cookie: str | None  # the approval to remember in this browser


class Consents:
    def __init__(
        self,
        grants: GrantStore,
        sealer: Sealer,
        *,
        clock: Callable[[], float],
        secure: bool,
        remember_days: float = 90.0,
    ) -> None:
        self._grants = grants
        self._sealer = sealer
        self._clock = clock
        self._secure = "; Secure" if secure else ""
        self._remember = remember_days * 86400

    def _approved(self, cookies: Mapping[str, str]) -> dict[str, float]:
        try:
            raw = self._sealer.open_object(cookies.get(APPROVED_COOKIE, ""), context="consent")
        except (SealError, ValueError):
            return {}
        now = self._clock()
        return {k: float(v) for k, v in raw.items() if isinstance(v, int | float) and v > now}

    def remembered(self, client_id: str, cookies: Mapping[str, str]) -> bool:
        return client_id in self._approved(cookies)

    async def ask(self, *, client_id: str, name: str, redirect_uri: str, query: Mapping[str, str]) -> HttpOut:
        """The consent page for this authorization request (kept in the grant store until answered)."""
        ask, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        now = self._clock()
        await self._grants.put("consent-ask", ask, {"query": dict(query)}, expires_at=now + ASK_SECONDS)
        token = self._sealer.seal(json.dumps({"ask": ask, "nonce": nonce}).encode(), context="consent-form")
        shown = html.escape(name or "An application that did not give its name")
        body = (
            f"<p><strong>{shown}</strong> <small>(client <code>{html.escape(client_id)}</code>)</small> wants to "
            "use this MCP hub as you.</p>"
            "<p>If you allow it, you will sign in with your company account, and it will get:</p><ul>"
            "<li>access to the MCP servers and tools you may use, acting as you;</li>"
            "<li>a sign-in that it can renew for up to 90 days, until you sign out or it is revoked.</li></ul>"
            f"<p>It will then send your browser back to <code>{html.escape(redirect_uri)}</code>.</p>"
            "<p>Only allow it if you just started this from your IDE.</p>"
            '<form method="post" action="/oauth/consent">'
            f'<input type="hidden" name="token" value="{html.escape(token)}">'
            '<button type="submit" name="decision" value="allow">Allow</button> '
            '<button type="submit" name="decision" value="deny">Deny</button></form>'
        )
        cookie = f"{NONCE_COOKIE}={nonce}; Path=/oauth; HttpOnly; SameSite=Strict; Max-Age={ASK_SECONDS}{self._secure}"
        return page(200, "Allow this application?", body, {"Set-Cookie": cookie})

    async def answer(self, form: Mapping[str, str], cookies: Mapping[str, str]) -> Answer | None:
        """The person's answer, or None when the form is forged, stale, replayed or from another browser."""
        try:
            token = self._sealer.open_object(form.get("token", ""), context="consent-form")
        except (SealError, ValueError):
            return None
        nonce = cookies.get(NONCE_COOKIE, "")
        if not nonce or not secrets.compare_digest(str(token.get("nonce", "")), nonce):
            return None
        asked = await self._grants.take("consent-ask", str(token.get("ask", "")), now=self._clock())
        if asked is None:
            return None
        query: dict[str, str] = {str(k): str(v) for k, v in asked["query"].items()}
        if form.get("decision") != "allow":
            return Answer(False, query, None)
        approved = {**self._approved(cookies), query.get("client_id", ""): self._clock() + self._remember}
        sealed = self._sealer.seal(json.dumps(approved).encode(), context="consent")
        cookie = (
            f"{APPROVED_COOKIE}={sealed}; Path=/oauth; HttpOnly; SameSite=Lax; "
            f"Max-Age={int(self._remember)}{self._secure}"
        )
        return Answer(True, query, cookie)

    async def record(self, user: str, client_id: str, name: str) -> None:
        """Who approved which application (per user; the browser's cookie only skips the question)."""
        value = {"name": name, "at": self._clock()}
        await self._grants.put("consent", f"{user}|{client_id}", value, expires_at=self._clock() + self._remember)
