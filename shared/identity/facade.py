"""The hub's OAuth 2.1 authorization server facade in front of Entra ID.

Cursor and Claude Code register themselves (RFC 7591) or present a client ID metadata document,
which Entra does not support. So the hub is their authorization server: metadata (RFC 8414),
`/oauth/register`, `/oauth/authorize` (the user signs in with Entra through MSAL, auth code + PKCE
as the hub's confidential client), `/oauth/callback`, and `/oauth/token`, which issues the hub's
own short-lived access token and a rotating refresh token. PKCE (S256 only) is checked end to end.

Every piece of state is in the grant store, so each step may land on any instance:
    pending   MSAL's flow + the client's request, until the callback (10 min, single use)
    code      an authorization code (60 s, single use, PKCE-bound)
    refresh, spent, family   refresh tokens and sign-ins (shared/identity/renewal.py: rotation,
              the user re-checked at the identity provider at every refresh, a grace period for
              concurrent refreshes, reuse detection outside it)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from shared.audit.events import audit
from shared.errors import Unauthenticated
from shared.http import HttpOut, json_reply
from shared.identity.clients import Client, ClientError, ClientRegistry
from shared.identity.consent import Consents
from shared.identity.grants import GrantStore
from shared.identity.hub_tokens import HubTokens
from shared.identity.idp import IdentityProvider
from shared.identity.pages import page
from shared.identity.renewal import NO_STORE, USER_CLAIMS, SignInFamilies, digest, oauth_error
from shared.mcp.jsonrpc import JsonObject
from shared.redirects import RedirectRefused, parse_redirect
from shared.sealing import Sealer

PENDING_SECONDS = 600
CODE_SECONDS = 60


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _with_query(uri: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(uri)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _redirect(location: str) -> HttpOut:
    return HttpOut(302, {"Location": location, **NO_STORE})


def _page(status: int, message: str) -> HttpOut:
    """An error shown to the person in the browser (never redirected to an unverified URI)."""
    return page(status, "Sign-in failed", f"<p>{html.escape(message)}</p>")


def _redirect_refused(presented: str | None, authorized: str, required: bool) -> str | None:
    """Why /token refuses the redirect_uri it was sent, or None (RFC 6749 §4.1.3): required when
    /authorize had one, and then identical; and, like everywhere, one a browser reads as we do."""
    if presented is None:
        return "redirect_uri is required: send the one sent to /authorize" if required else None
    try:
        parse_redirect(presented)
    except RedirectRefused as refused:
        return f"redirect_uri refused: {refused}"
    if presented != authorized:
        return "redirect_uri differs from the one the code was issued for"
    return None


class AuthorizationServer:
    def __init__(
        self,
        *,
        issuer: str,
        tenants: frozenset[str],
        scope: str,
        grants: GrantStore,
        clients: ClientRegistry,
        idp: IdentityProvider,
        tokens: HubTokens,
        sealer: Sealer,
        clock: Callable[[], float],
        refresh_seconds: int = 14 * 24 * 3600,
        family_seconds: int = 90 * 24 * 3600,
        refresh_grace_seconds: float = 30.0,
    ) -> None:
        self.issuer = issuer
        self._tenants = tenants
        self._scope = scope
        self._grants = grants
        self._clients = clients
        self._idp = idp
        self.tokens = tokens
        self._clock = clock
        self._consents = Consents(grants, sealer, clock=clock, secure=issuer.startswith("https://"))
        self._families = SignInFamilies(
            grants=grants,
            tokens=tokens,
            idp=idp,
            sealer=sealer,
            tenants=tenants,
            scope=scope,
            clock=clock,
            refresh_seconds=refresh_seconds,
            family_seconds=family_seconds,
            grace_seconds=refresh_grace_seconds,
        )

    def trust_first_party(self, client: Client) -> None:
        """One of the hub's own pages signs people in through this facade as `client`."""
        self._clients.add_first_party(client)

    @property
    def callback_uri(self) -> str:
        return f"{self.issuer}/oauth/callback"

    def metadata(self) -> JsonObject:
        """RFC 8414 Authorization Server Metadata."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/oauth/authorize",
            "token_endpoint": f"{self.issuer}/oauth/token",
            "registration_endpoint": f"{self.issuer}/oauth/register",
            "jwks_uri": f"{self.issuer}/oauth/jwks",
            "scopes_supported": [self._scope, "offline_access"],
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "client_id_metadata_document_supported": True,
            "authorization_response_iss_parameter_supported": True,
        }

    async def jwks(self) -> JsonObject:
        return await self.tokens.keys.jwks()

    # ---- registration ------------------------------------------------------------------------

    async def register(self, metadata: Any) -> HttpOut:
        try:
            registration = await self._clients.register(metadata)
        except ClientError as refused:
            return oauth_error(refused.error, refused.description)
        audit("oauth.client_registered", client_id=registration["client_id"], name=registration["client_name"])
        return json_reply(registration, status=201, headers=NO_STORE)

    # ---- authorization -----------------------------------------------------------------------

    async def authorize(
        self, query: Mapping[str, str], cookies: Mapping[str, str] | None = None, *, consent: bool | None = None
    ) -> HttpOut:
        """Validate the request; ask for consent unless this browser approved the client (or it is one
        of the hub's own pages); then forward to the identity provider. `consent` is the person's
        answer when this runs again after the consent page."""
        cookies = cookies or {}
        client_id, redirect_uri = query.get("client_id", ""), query.get("redirect_uri", "")
        client = await self._clients.get(client_id) if client_id else None
        if client is None:
            return _page(400, "This application is not registered with the hub. Reconnect it from your IDE.")
        redirect_given = "redirect_uri" in query
        if not redirect_given and len(client.redirect_uris) == 1:
            redirect_uri = client.redirect_uris[0]
        if not client.redirect_allowed(redirect_uri):
            audit("oauth.redirect_refused", client_id=client.client_id, endpoint="authorize")
            return _page(400, "The application asked to return to an address it did not register.")
        state = query.get("state")

        def refuse(error: str, description: str) -> HttpOut:
            params = {"error": error, "error_description": description, "iss": self.issuer}
            return _redirect(_with_query(redirect_uri, {**params, **({"state": state} if state else {})}))

        if query.get("response_type") != "code":
            return refuse("unsupported_response_type", "only response_type=code is supported")
        challenge = query.get("code_challenge", "")
        if query.get("code_challenge_method") != "S256" or not 43 <= len(challenge) <= 128:
            return refuse("invalid_request", "PKCE with code_challenge_method=S256 is required")
        resource = query.get("resource") or self.tokens.resource
        if not self.tokens.accepts_audience(resource):
            return refuse("invalid_target", f"this hub issues tokens for {self.tokens.resource} only")
        first_party = self._clients.is_first_party(client.client_id)
        if consent is False:
            audit("oauth.consent_denied", client_id=client.client_id, name=client.name)
            return refuse("access_denied", "the user did not allow this application")
        if consent is None and not first_party and not self._consents.remembered(client.client_id, cookies):
            return await self._consents.ask(
                client_id=client.client_id, name=client.name, redirect_uri=redirect_uri, query=query
            )
        if consent:
            audit("oauth.consent_given", client_id=client.client_id, name=client.name)
        auth_url, flow = await self._idp.begin(redirect_uri=self.callback_uri, login_hint=query.get("login_hint"))
        pending = {
            "client_id": client.client_id,
            "redirect_uri": redirect_uri,
            "redirect_given": redirect_given,
            "state": state,
            "challenge": challenge,
            "resource": resource,
            "flow": flow,
            "consented": bool(consent),
            "client_name": client.name,
        }
        now = self._clock()
        await self._grants.put("pending", str(flow["state"]), pending, expires_at=now + PENDING_SECONDS)
        return _redirect(auth_url)

    async def consent(self, form: Mapping[str, str], cookies: Mapping[str, str]) -> HttpOut:
        """The consent page's answer: on to sign-in, or back to the application with access_denied."""
        answer = await self._consents.answer(form, cookies)
        if answer is None:
            audit("oauth.consent_refused", reason="form forged, expired, replayed or from another browser")
            return _page(
                403,
                "This consent form is not valid here (expired, used, or opened in another browser). "
                "Start the sign-in again from your IDE.",
            )
        reply = await self.authorize(answer.query, cookies, consent=answer.approved)
        if answer.set_cookie and reply.status == 302:
            reply.headers["Set-Cookie"] = answer.set_cookie
        return reply

    async def callback(self, query: Mapping[str, str]) -> HttpOut:
        pending = await self._grants.take("pending", query.get("state", ""), now=self._clock())
        if pending is None:
            return _page(400, "This sign-in has expired or was already used. Start again from your IDE.")
        state = pending.get("state")

        def back(params: dict[str, str]) -> HttpOut:
            params = {**params, "iss": self.issuer, **({"state": state} if state else {})}
            return _redirect(_with_query(str(pending["redirect_uri"]), params))

        if "error" in query:
            audit("signin.failed", client_id=pending["client_id"], reason=str(query.get("error"))[:100])
            return back({"error": "access_denied", "error_description": "sign-in was cancelled or refused"})
        try:
            signed = await self._idp.finish(pending["flow"], dict(query))
        except Unauthenticated as refused:
            audit("signin.failed", client_id=pending["client_id"], reason=refused.message[:200])
            return back({"error": "access_denied", "error_description": "sign-in could not be completed"})
        claims = signed.claims
        if claims.get("tid") not in self._tenants or not claims.get("oid"):
            audit("signin.refused", client_id=pending["client_id"], tenant=claims.get("tid"), reason="tenant")
            return back({"error": "access_denied", "error_description": "your organisation may not use this hub"})
        user = {name: claims[name] for name in USER_CLAIMS if name in claims}
        code = secrets.token_urlsafe(32)
        grant = {
            "client_id": pending["client_id"],
            "redirect_uri": pending["redirect_uri"],
            "redirect_given": pending.get("redirect_given", True),
            "challenge": pending["challenge"],
            "resource": pending["resource"],
            "user": user,
            "provider": self._families.seal_provider_token(signed.refresh_token),
        }
        await self._grants.put("code", digest(code), grant, expires_at=self._clock() + CODE_SECONDS)
        who = f"{user['tid']}:{user['oid']}"
        audit("signin.succeeded", user=who, client_id=pending["client_id"])
        if pending.get("consented"):
            await self._consents.record(who, str(pending["client_id"]), str(pending.get("client_name", "")))
        return back({"code": code})

    # ---- token -------------------------------------------------------------------------------

    async def token(self, form: Mapping[str, str]) -> HttpOut:
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return await self._code(form)
        if grant_type == "refresh_token":
            return await self._families.refresh(form)
        return oauth_error("unsupported_grant_type", "use authorization_code or refresh_token")

    async def first_party_sign_in(
        self, *, code: str, client_id: str, redirect_uri: str, verifier: str
    ) -> dict[str, Any] | None:
        """The signed-in user's claims for one of the hub's own pages (no tokens issued), or None."""
        form = {"code": code, "client_id": client_id, "redirect_uri": redirect_uri, "code_verifier": verifier}
        redeemed = await self._redeem(form)
        return None if isinstance(redeemed, HttpOut) else dict(redeemed[0]["user"])

    async def _code(self, form: Mapping[str, str]) -> HttpOut:
        redeemed = await self._redeem(form)
        if isinstance(redeemed, HttpOut):
            return redeemed
        grant, resource = redeemed
        await self._clients.keep(str(grant["client_id"]), until=self._clock() + self._families.family_seconds)
        return await self._families.begin(grant["user"], str(grant["client_id"]), resource, grant.get("provider"))

    async def _redeem(self, form: Mapping[str, str]) -> tuple[dict[str, Any], str] | HttpOut:
        """The code's grant and resource, once (codes are single use), or the OAuth error to answer."""
        grant = await self._grants.take("code", digest(form.get("code", "")), now=self._clock())
        if grant is None:
            return oauth_error("invalid_grant", "the authorization code is unknown, expired or already used")
        if form.get("client_id") != grant["client_id"]:
            return oauth_error("invalid_grant", "the code was issued to another client")
        refused = _redirect_refused(
            form.get("redirect_uri"), str(grant["redirect_uri"]), grant.get("redirect_given", True)
        )
        if refused:
            audit("oauth.redirect_refused", client_id=str(grant["client_id"]), endpoint="token")
            return oauth_error("invalid_grant", refused)
        verifier = form.get("code_verifier", "")
        if not 43 <= len(verifier) <= 128 or not hmac.compare_digest(_s256(verifier), str(grant["challenge"])):
            return oauth_error("invalid_grant", "code_verifier does not match the code_challenge")
        resource = form.get("resource") or grant["resource"]
        if resource != grant["resource"]:
            return oauth_error("invalid_target", "resource differs from the one authorized")
        return grant, str(resource)
