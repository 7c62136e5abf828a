"""The hub's "connect your account" pages: a user gives the hub their credential for one upstream.

A tool call that needs a credential fails with a link carrying a sealed, 15-minute ticket naming
the user and the server (the browser has no hub token, so the ticket is the proof of who asked).
`user_token` servers get a form to paste a token into; `user_oauth` servers send the browser to the
upstream's OAuth server (auth code + PKCE) and back to `/connect/callback`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
from collections.abc import Callable, Mapping
from urllib.parse import urlencode

import httpx

from shared.hub.http import HttpOut
from shared.identity.audit import audit
from shared.identity.credentials import ConnectTickets, CredentialVault, UpstreamCredentials, token_record
from shared.identity.sealing import Sealer, SealError
from shared.settings import ServerSettings

_NO_STORE = {"Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8"}
_MAX_TOKEN = 8192


def _page(status: int, title: str, body: str) -> HttpOut:
    document = (
        '<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f"<title>{html.escape(title)} · MCPHub</title>"
        '<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem">'
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HttpOut(status, dict(_NO_STORE), document.encode())


class ConnectPages:
    def __init__(
        self,
        servers: Mapping[str, ServerSettings],
        vault: CredentialVault,
        tickets: ConnectTickets,
        credentials: UpstreamCredentials,
        *,
        sealer: Sealer,
        public_url: str,
        http: httpx.AsyncClient,
        clock: Callable[[], float],
    ) -> None:
        self._servers = servers
        self._vault = vault
        self._tickets = tickets
        self._credentials = credentials
        self._sealer = sealer
        self._public_url = public_url.rstrip("/")
        self._http = http
        self._clock = clock

    @property
    def callback_uri(self) -> str:
        return f"{self._public_url}/connect/callback"

    def _server(self, name: str) -> ServerSettings | None:
        server = self._servers.get(name)
        return server if server is not None and server.auth in ("user_token", "user_oauth") else None

    async def start(self, name: str, ticket: str) -> HttpOut:
        server = self._server(name)
        if server is None:
            return _page(404, "Unknown server", "<p>There is no server by that name to connect.</p>")
        try:
            self._tickets.read(ticket, name)
        except ValueError as refused:
            return _page(400, "Link not valid", f"<p>{html.escape(str(refused))}</p>")
        if server.auth == "user_token":
            form = (
                f"<p>Paste your {html.escape(name)} token. The hub stores it encrypted, uses it only for "
                "your own calls to this server, and never shows it again.</p>"
                f'<form method="post" action="/connect/{html.escape(name)}">'
                f'<input type="hidden" name="ticket" value="{html.escape(ticket)}">'
                '<label>Token <input type="password" name="token" required autocomplete="off" '
                'style="width:100%"></label><p><button type="submit">Connect</button></p></form>'
            )
            return _page(200, f"Connect {name}", form)
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = self._sealer.seal(
            json.dumps({"ticket": ticket, "server": name, "verifier": verifier}).encode(), context="connect-state"
        )
        query = {
            "response_type": "code",
            "client_id": str(server.oauth_client_id),
            "redirect_uri": self.callback_uri,
            "scope": server.oauth_scopes,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return HttpOut(
            302, {"Location": f"{server.oauth_authorize_url}?{urlencode(query)}", "Cache-Control": "no-store"}
        )

    async def submit(self, name: str, form: Mapping[str, str]) -> HttpOut:
        server = self._server(name)
        if server is None or server.auth != "user_token":
            return _page(404, "Unknown server", "<p>There is no server by that name to connect.</p>")
        try:
            user = self._tickets.read(form.get("ticket", ""), name)
        except ValueError as refused:
            return _page(400, "Link not valid", f"<p>{html.escape(str(refused))}</p>")
        token = form.get("token", "").strip()
        if not token or len(token) > _MAX_TOKEN:
            return _page(400, "No token", "<p>Paste the token into the field, then connect.</p>")
        await self._store(server, user, {"access_token": token, "expires_at": None, "refresh_token": None})
        return self._connected(name)

    async def callback(self, query: Mapping[str, str]) -> HttpOut:
        try:
            state = json.loads(self._sealer.open(query.get("state", ""), context="connect-state"))
            name = str(state["server"])
            user = self._tickets.read(str(state["ticket"]), name)
        except (SealError, ValueError, KeyError):
            return _page(400, "Link not valid", "<p>This sign-in is not valid or has expired; call the tool again.</p>")
        server = self._server(name)
        if server is None or "code" not in query:
            audit("credential.connect_refused", user=user, server=name, error=query.get("error", "no code"))
            return _page(400, f"{name} was not connected", "<p>The sign-in was cancelled or refused.</p>")
        form = {
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": self.callback_uri,
            "client_id": str(server.oauth_client_id),
            "code_verifier": str(state["verifier"]),
        }
        if server.oauth_client_secret is not None:
            form["client_secret"] = server.oauth_client_secret.get_secret_value()
        try:
            response = await self._http.post(str(server.oauth_token_url), data=form, timeout=server.timeout)
            answer = response.json()
        except (httpx.HTTPError, ValueError):
            return _page(502, f"{name} was not connected", "<p>Its sign-in service did not answer. Try again.</p>")
        if response.status_code != 200 or "access_token" not in answer:
            return _page(400, f"{name} was not connected", "<p>Its sign-in service refused the code. Try again.</p>")
        await self._store(server, user, token_record(answer, self._clock()))
        return self._connected(name)

    async def _store(self, server: ServerSettings, user: str, secret: dict[str, object]) -> None:
        await self._vault.put(user, server.name, secret)
        self._credentials.forget(user, server.name)
        audit("credential.connected", user=user, server=server.name, mode=server.auth)

    @staticmethod
    def _connected(name: str) -> HttpOut:
        return _page(200, f"{name} connected", "<p>You can close this tab and call the tool again from your IDE.</p>")
