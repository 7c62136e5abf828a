"""The facade's refresh tokens: one family per sign-in, rotated at each use, the user re-checked each time.

    refresh   a refresh token, by hash (single use: each refresh returns a new one)
    spent     a used refresh token, by hash, with when it was used and (sealed) the pair it returned
    family    one sign-in: the user, the provider's refresh token (sealed), an absolute lifetime

Each refresh asks the identity provider again who the user is (`IdentityProvider.reevaluate`, with
the provider's own refresh token): a removed role, group or a disabled account stops working at the
next refresh, within one access-token lifetime, instead of riding on the sign-in for 90 days.

Two IDE windows sharing one refresh token may refresh at the same moment. For `grace_seconds` after
a refresh token was used, presenting it again returns the same new pair (the reply is kept sealed)
instead of counting as theft; after that, reuse revokes the whole family as before.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Callable, Collection
from typing import Any

from shared.audit.events import audit
from shared.errors import Unauthenticated
from shared.http import HttpOut, json_reply
from shared.identity.grants import GrantStore
from shared.identity.hub_tokens import HubTokens
from shared.identity.idp import IdentityProvider
from shared.sealing import Sealer, SealError

USER_CLAIMS = ("tid", "oid", "roles", "groups", "preferred_username", "name", "acrs")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_WAIT_FOR_REPLY_SECONDS = 5.0


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def oauth_error(error: str, description: str, status: int = 400) -> HttpOut:
    return json_reply({"error": error, "error_description": description}, status=status, headers=NO_STORE)


class SignInFamilies:
    def __init__(
        self,
        *,
        grants: GrantStore,
        tokens: HubTokens,
        idp: IdentityProvider,
        sealer: Sealer,
        tenants: Collection[str],
        scope: str,
        clock: Callable[[], float],
        refresh_seconds: float,
        family_seconds: float,
        grace_seconds: float = 30.0,
    ) -> None:
        self._grants = grants
        self._tokens = tokens
        self._idp = idp
        self._sealer = sealer
        self._tenants = frozenset(tenants)
        self._scope = scope
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self.family_seconds = family_seconds
        self._grace = grace_seconds

    def seal_provider_token(self, token: str | None) -> str | None:
        return self._sealer.seal(token.encode(), context="provider-refresh") if token else None

    async def begin(self, user: dict[str, Any], client_id: str, resource: str, provider: str | None) -> HttpOut:
        """A new sign-in's first pair; `provider` is the provider's refresh token, sealed."""
        family = secrets.token_urlsafe(16)
        now = self._clock()
        record = {"user": user, "provider": provider, "started": now}
        await self._grants.put("family", family, record, expires_at=now + self.family_seconds)
        return await self._issue(user, client_id, resource, family)

    async def refresh(self, form: dict[str, str] | Any) -> HttpOut:
        presented = form.get("refresh_token", "")
        now = self._clock()
        key = digest(presented)
        grant = await self._grants.get("refresh", key, now=now)
        if grant is None:
            return await self._presented_again(key, form, now)
        family = str(grant["family"])
        spent = {"family": family, "at": now, "client_id": grant["client_id"]}
        # The spent record is the arbiter: of two concurrent refreshes with one token, one creates it
        # and renews; the other finds it and is handed the same reply once it is there.
        if not await self._grants.add("spent", key, spent, expires_at=now + self._refresh_seconds, now=now):
            return await self._presented_again(key, form, now)
        await self._grants.delete("refresh", key)
        reply = await self._renew(grant, family, form, now)
        # Tell a concurrent refresh with the same token (the grace period) what came of this one.
        if reply.status != 200:
            outcome: dict[str, Any] = {"failed": True}
        elif self._grace > 0:
            outcome = {"reply": self._sealer.seal(reply.body, context=f"refresh-reply:{key}")}
        else:
            return reply
        await self._grants.put("spent", key, {**spent, **outcome}, expires_at=now + self._refresh_seconds)
        return reply

    async def _renew(self, grant: dict[str, Any], family: str, form: Any, now: float) -> HttpOut:
        record = await self._grants.get("family", family, now=now)
        if record is None:
            return oauth_error("invalid_grant", "this sign-in was revoked; sign in again")
        if form.get("client_id") != grant["client_id"]:
            return oauth_error("invalid_grant", "the refresh token was issued to another client")
        resource = form.get("resource") or str(grant["resource"])
        if resource != grant["resource"]:
            return oauth_error("invalid_target", "resource differs from the one authorized")
        user = await self._current_user(family, record, now)
        if user is None:
            return oauth_error("invalid_grant", "your account could not be confirmed; sign in again")
        return await self._issue(user, str(grant["client_id"]), resource, family)

    async def _presented_again(self, key: str, form: Any, now: float) -> HttpOut:
        spent = await self._grants.get("spent", key, now=now)
        unknown = oauth_error("invalid_grant", "the refresh token is unknown, expired or already used")
        if spent is None:
            return unknown
        if now - float(spent.get("at", 0.0)) <= self._grace and form.get("client_id") == spent.get("client_id"):
            # A concurrent refresh by another window of the same client: hand out the same pair.
            body = await self._reply_of(key, spent)
            if body is not None:
                return HttpOut(200, {"Content-Type": "application/json", **NO_STORE}, body)
            return unknown  # the first refresh failed or is still running: nothing to share, nothing revoked
        # Used twice outside the grace period: stolen (or a reply lost long ago). End the sign-in.
        await self._grants.delete("family", str(spent["family"]))
        audit("token.refresh_reuse", family=str(spent["family"])[:8], outcome="sign-in revoked")
        return unknown

    async def _reply_of(self, key: str, spent: dict[str, Any]) -> bytes | None:
        deadline = self._clock() + _WAIT_FOR_REPLY_SECONDS
        delay = 0.02
        while "reply" not in spent:
            if spent.get("failed") or self._clock() >= deadline:
                return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)
            found = await self._grants.get("spent", key, now=self._clock())
            if found is None:
                return None
            spent = found
        try:
            return self._sealer.open(str(spent["reply"]), context=f"refresh-reply:{key}")
        except SealError:
            return None

    async def _current_user(self, family: str, record: dict[str, Any], now: float) -> dict[str, Any] | None:
        """The user as the identity provider sees them now; None (and the family revoked) if refused."""
        previous: dict[str, Any] = record["user"]
        who = f"{previous.get('tid')}:{previous.get('oid')}"
        try:
            if not record.get("provider"):
                raise Unauthenticated("no provider refresh token kept for this sign-in")
            token = self._sealer.open(str(record["provider"]), context="provider-refresh").decode()
            signed = await self._idp.reevaluate(token)
        except (Unauthenticated, SealError) as refused:
            reason = refused.message if isinstance(refused, Unauthenticated) else "provider token unreadable"
            await self._grants.delete("family", family)
            audit("token.refresh_refused", user=who, reason=reason[:200], outcome="sign-in revoked")
            return None
        claims = signed.claims
        if (claims.get("tid"), claims.get("oid")) != (previous.get("tid"), previous.get("oid")) or (
            claims.get("tid") not in self._tenants
        ):
            await self._grants.delete("family", family)
            audit("token.refresh_refused", user=who, reason="the provider named another user or tenant")
            return None
        user = {name: claims[name] for name in USER_CLAIMS if name in claims}
        if user.get("roles") != previous.get("roles") or user.get("groups") != previous.get("groups"):
            audit("token.claims_changed", user=who, roles=json.dumps(user.get("roles", [])))
        provider = self.seal_provider_token(signed.refresh_token) or record.get("provider")
        started = float(record.get("started", now))  # refreshing never extends the sign-in's lifetime
        updated = {"user": user, "provider": provider, "started": started}
        await self._grants.put("family", family, updated, expires_at=started + self.family_seconds)
        return user

    async def _issue(self, user: dict[str, Any], client_id: str, resource: str, family: str) -> HttpOut:
        access = await self._tokens.issue(user, client_id=client_id, audience=resource)
        refresh = secrets.token_urlsafe(32)
        record = {"user": user, "client_id": client_id, "resource": resource, "family": family}
        await self._grants.put("refresh", digest(refresh), record, expires_at=self._clock() + self._refresh_seconds)
        body = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self._tokens.lifetime,
            "refresh_token": refresh,
            "scope": self._scope,
        }
        return json_reply(body, headers=NO_STORE)
