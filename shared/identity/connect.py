"""The hub's "connect your account" pages: a user gives the hub their credential for one upstream.

A tool call that needs a credential fails with a link carrying a sealed, 15-minute ticket naming
the user and the server. The link alone proves nothing about who opens it (anyone can forward it),
so the pages first sign the person in through the hub's own OAuth facade, as a first-party client
(`CONNECT_PAGE_CLIENT`, auth code + PKCE, redirect `/connect/{server}/signed-in`), and refuse unless
the signed-in user is the ticket's user. Then:

    GET  /connect/{server}?ticket=…             checks the ticket, sends the browser to sign in
    GET  /connect/{server}/signed-in?code&state  signs in; names the account and the server; a form
    POST /connect/{server}                       spends the ticket (single use), stores the token
                                                 (`user_token`) or goes to the upstream's sign-in
    GET  /oauth/connect-callback                 (`user_oauth`) the upstream's code, stored sealed

Replacing a stored credential needs the "replace" box ticked, and is audited as such. A nonce in
an HttpOnly, SameSite=Lax cookie binds the sign-in, the form and the upstream callback to the one
browser that started them (no login CSRF, no cross-site form posts); pages may not be framed.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
from collections.abc import Callable, Mapping
from typing import Any, cast
from urllib.parse import urlencode

import httpx

from shared.audit.events import audit
from shared.http import HttpOut
from shared.identity.credentials import TICKET_SECONDS, ConnectTickets, CredentialVault, token_record
from shared.identity.facade import AuthorizationServer
from shared.identity.grants import GrantStore
from shared.identity.pages import page
from shared.identity.upstream_auth import UpstreamCredentials
from shared.sealing import Sealer, SealError
from shared.settings import ServerSettings

CONNECT_PAGE_CLIENT = "mcphub-connect-page"
COOKIE = "mcphub_connect"
_MAX_TOKEN = 8192
_FORM_SECONDS = 600


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _ticket_id(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def _already_connected(name: str) -> HttpOut:
    return page(
        409,
        f"{name} is already connected",
        "<p>A credential for this server is already stored for your account. Go back, tick "
        "<em>replace it</em> and submit again to replace it; otherwise nothing changes.</p>",
    )


class ConnectPages:
    def __init__(
        self,
        servers: Mapping[str, ServerSettings],
        vault: CredentialVault,
        tickets: ConnectTickets,
        credentials: UpstreamCredentials,
        *,
        grants: GrantStore,
        sealer: Sealer,
        public_url: str,
        http: httpx.AsyncClient,
        clock: Callable[[], float],
        oauth: AuthorizationServer | None,
    ) -> None:
        self._servers = servers
        self._vault = vault
        self._tickets = tickets
        self._credentials = credentials
        self._grants = grants
        self._sealer = sealer
        self._public_url = public_url.rstrip("/")
        self._http = http
        self._clock = clock
        self._oauth = oauth  # None only with MCPHUB_AUTH__MODE=off: everyone is the one anonymous user
        self._secure = "; Secure" if self._public_url.startswith("https://") else ""

    @property
    def callback_uri(self) -> str:
        return f"{self._public_url}/oauth/connect-callback"

    def signed_in_uri(self, server: str) -> str:
        return f"{self._public_url}/connect/{server}/signed-in"

    def _server(self, name: str) -> ServerSettings | None:
        server = self._servers.get(name)
        return server if server is not None and self._credentials.auth_for(server).connect is not None else None

    def _seal(self, body: dict[str, Any], context: str) -> str:
        return self._sealer.seal(json.dumps(body).encode(), context=context)

    def _open(self, sealed: str, context: str) -> dict[str, Any]:
        """A sealed value of ours, still in date; ValueError otherwise."""
        try:
            body = self._sealer.open_object(sealed, context=context)
        except (SealError, ValueError):
            raise ValueError("this page is not valid; open the link from your IDE again") from None
        if float(body.get("exp", 0)) < self._clock():
            raise ValueError("this page has expired; open the link from your IDE again")
        return body

    @staticmethod
    def _nonce_matches(body: Mapping[str, Any], cookies: Mapping[str, str]) -> bool:
        nonce = cookies.get(COOKIE, "")
        return bool(nonce) and secrets.compare_digest(str(body.get("nonce", "")), nonce)

    # ---- 1. the link: check the ticket, then sign in ------------------------------------------

    async def start(self, name: str, ticket: str, login_hint: str | None = None) -> HttpOut:
        server = self._server(name)
        if server is None:
            return page(404, "Unknown server", "<p>There is no server by that name to connect.</p>")
        try:
            user = self._tickets.read(ticket, name)
        except ValueError as refused:
            audit("credential.ticket_refused", server=name, reason=str(refused)[:100])
            return page(400, "Link not valid", f"<p>{html.escape(str(refused))}</p>")
        if await self._grants.get("ticket-spent", _ticket_id(ticket), now=self._clock()) is not None:
            audit("credential.ticket_replayed", user=user, server=name)
            return page(
                400, "Link already used", "<p>This link was used already; call the tool again for a new one.</p>"
            )
        nonce = secrets.token_urlsafe(24)
        cookie = f"{COOKIE}={nonce}; Path=/connect; HttpOnly; SameSite=Lax; Max-Age={TICKET_SECONDS}{self._secure}"
        if self._oauth is None:  # authentication off: there is nobody to sign in
            return self._confirm(server, ticket, user, {"name": "anonymous"}, nonce, cookie)
        verifier = secrets.token_urlsafe(48)
        exp = self._clock() + TICKET_SECONDS
        state = self._seal({"ticket": ticket, "server": name, "verifier": verifier, "nonce": nonce, "exp": exp}, "sign")
        query = {
            "response_type": "code",
            "client_id": CONNECT_PAGE_CLIENT,
            "redirect_uri": self.signed_in_uri(name),
            "state": state,
            "code_challenge": _s256(verifier),
            "code_challenge_method": "S256",
            **({"login_hint": login_hint} if login_hint else {}),
        }
        location = f"{self._oauth.issuer}/oauth/authorize?{urlencode(query)}"
        return HttpOut(302, {"Location": location, "Cache-Control": "no-store", "Set-Cookie": cookie})

    # ---- 2. signed in: the right person? ----------------------------------------------------------

    async def signed_in(self, name: str, query: Mapping[str, str], cookies: Mapping[str, str]) -> HttpOut:
        server = self._server(name)
        if server is None or self._oauth is None:
            return page(404, "Unknown server", "<p>There is no server by that name to connect.</p>")
        try:
            state = self._open(query.get("state", ""), "sign")
            if state.get("server") != name or not self._nonce_matches(state, cookies):
                raise ValueError("this sign-in was started in another browser; open the link from your IDE again")
            ticket_user = self._tickets.read(str(state["ticket"]), name)
        except ValueError as refused:
            return page(400, "Link not valid", f"<p>{html.escape(str(refused))}</p>")
        claims = await self._oauth.first_party_sign_in(
            code=query.get("code", ""),
            client_id=CONNECT_PAGE_CLIENT,
            redirect_uri=self.signed_in_uri(name),
            verifier=str(state["verifier"]),
        )
        if claims is None:
            return page(
                400, "Sign-in failed", "<p>The sign-in did not complete; open the link from your IDE again.</p>"
            )
        user = f"{claims.get('tid')}:{claims.get('oid')}"
        if user != ticket_user:
            audit("credential.connect_refused", user=user, server=name, reason="the link was made for another user")
            account = html.escape(str(claims.get("preferred_username") or user))
            return page(
                403,
                "This link is not yours",
                f"<p>You are signed in as <strong>{account}</strong>, but this link was made for another "
                "account. Nothing was connected. If you did not ask for this link, someone may have sent it "
                "to you to capture your credential: do not use it.</p>",
            )
        return self._confirm(server, str(state["ticket"]), user, claims, str(state["nonce"]), None)

    def _confirm(
        self, server: ServerSettings, ticket: str, user: str, claims: Mapping[str, Any], nonce: str, cookie: str | None
    ) -> HttpOut:
        name = server.name
        exp = self._clock() + _FORM_SECONDS
        grant = self._seal({"ticket": ticket, "server": name, "user": user, "nonce": nonce, "exp": exp}, "form")
        account = html.escape(str(claims.get("preferred_username") or claims.get("name") or user))
        action = html.escape(f"/connect/{name}")
        head = (
            f"<p>Signed in as <strong>{account}</strong> (<code>{html.escape(user)}</code>).</p>"
            f"<p>This connects <strong>{html.escape(name)}</strong> to that account only: the hub stores "
            "the credential encrypted and uses it only for your own calls to this server.</p>"
        )
        replace = (
            '<p><label><input type="checkbox" name="replace" value="yes"> If a credential for this server is '
            "already stored for me, replace it</label></p>"
        )
        if self._credentials.auth_for(server).connect == "paste":
            fields = (
                '<label>Token <input type="password" name="token" required autocomplete="off" '
                'style="width:100%"></label>'
            )
            button = "Connect"
        else:
            fields, button = "", f"Continue to the {html.escape(name)} sign-in"
        form = (
            f'{head}<form method="post" action="{action}"><input type="hidden" name="grant" '
            f'value="{html.escape(grant)}">{fields}{replace}<p><button type="submit">{button}</button></p></form>'
        )
        return page(200, f"Connect {name}", form, {"Set-Cookie": cookie} if cookie else None)

    # ---- 3. the form: spend the ticket, store or go to the upstream ------------------------------

    async def submit(self, name: str, form: Mapping[str, str], cookies: Mapping[str, str]) -> HttpOut:
        server = self._server(name)
        if server is None:
            return page(404, "Unknown server", "<p>There is no server by that name to connect.</p>")
        try:
            grant = self._open(form.get("grant", ""), "form")
            if grant.get("server") != name or not self._nonce_matches(grant, cookies):
                raise ValueError("this form was not opened in this browser; open the link from your IDE again")
        except ValueError as refused:
            audit("credential.form_refused", server=name, reason=str(refused)[:100])
            return page(400, "Link not valid", f"<p>{html.escape(str(refused))}</p>")
        user, replace = str(grant["user"]), form.get("replace") == "yes"
        token = form.get("token", "").strip()
        pasted = self._credentials.auth_for(server).connect == "paste"
        if pasted and (not token or len(token) > _MAX_TOKEN):
            return page(400, "No token", "<p>Paste the token into the field, then connect.</p>")
        if not replace and await self._vault.get(user, name) is not None:
            return _already_connected(name)
        spent = await self._grants.add(
            "ticket-spent",
            _ticket_id(str(grant["ticket"])),
            {"user": user},
            expires_at=self._clock() + TICKET_SECONDS,
            now=self._clock(),
        )
        if not spent:
            audit("credential.ticket_replayed", user=user, server=name)
            return page(
                400, "Link already used", "<p>This link was used already; call the tool again for a new one.</p>"
            )
        if pasted:
            secret: dict[str, object] = {"access_token": token, "expires_at": None, "refresh_token": None}
            return await self._store(server, user, secret, replace)
        verifier = secrets.token_urlsafe(48)
        exp = self._clock() + _FORM_SECONDS
        body = {
            "server": name,
            "user": user,
            "verifier": verifier,
            "nonce": grant["nonce"],
            "replace": replace,
            "exp": exp,
        }
        query = {
            "response_type": "code",
            "client_id": str(server.oauth_client_id),
            "redirect_uri": self.callback_uri,
            "scope": server.oauth_scopes,
            "state": self._seal(body, "connect-state"),
            "code_challenge": _s256(verifier),
            "code_challenge_method": "S256",
        }
        return HttpOut(
            302, {"Location": f"{server.oauth_authorize_url}?{urlencode(query)}", "Cache-Control": "no-store"}
        )

    # ---- 4. user_oauth: the upstream's code ---------------------------------------------------------

    async def callback(self, query: Mapping[str, str], cookies: Mapping[str, str]) -> HttpOut:
        try:
            state = self._open(query.get("state", ""), "connect-state")
            if not self._nonce_matches(state, cookies):
                raise ValueError("this sign-in was started in another browser")
            name, user = str(state["server"]), str(state["user"])
        except (ValueError, KeyError):
            return page(400, "Link not valid", "<p>This sign-in is not valid or has expired; call the tool again.</p>")
        server = self._server(name)
        if server is None or "code" not in query:
            audit("credential.connect_refused", user=user, server=name, reason=str(query.get("error", "no code"))[:100])
            return page(400, f"{name} was not connected", "<p>The sign-in was cancelled or refused.</p>")
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
            parsed: object = response.json()
        except (httpx.HTTPError, ValueError):
            return page(502, f"{name} was not connected", "<p>Its sign-in service did not answer. Try again.</p>")
        # Anything but a JSON object with a token (a list, a string) is a refusal, not a crash.
        answer = cast(dict[str, Any], parsed) if isinstance(parsed, dict) else {}
        if response.status_code != 200 or "access_token" not in answer:
            return page(400, f"{name} was not connected", "<p>Its sign-in service refused the code. Try again.</p>")
        return await self._store(server, user, token_record(answer, self._clock()), bool(state.get("replace")))

    async def _store(self, server: ServerSettings, user: str, secret: dict[str, object], replace: bool) -> HttpOut:
        name = server.name
        replaced = await self._vault.get(user, name) is not None
        if replaced and not replace:
            return _already_connected(name)  # stored meanwhile (another tab); replacing was not chosen
        await self._vault.put(user, name, secret)
        self._credentials.forget(user, name)
        audit("credential.replaced" if replaced else "credential.connected", user=user, server=name, mode=server.auth)
        return page(200, f"{name} connected", "<p>You can close this tab and call the tool again from your IDE.</p>")
