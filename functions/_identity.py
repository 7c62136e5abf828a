"""Composition of sign-in: token verification and, when configured, the OAuth facade.

Part of the composition root (`_deps.hub()` calls it once per worker).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from shared.closing import Closing
from shared.errors import ConfigError
from shared.identity.clients import OPERATOR_PAGE_CLIENT, Client, ClientRegistry
from shared.identity.connect import CONNECT_PAGE_CLIENT, ConnectPages
from shared.identity.credentials import ConnectTickets, CredentialVault
from shared.identity.facade import AuthorizationServer
from shared.identity.grants import GrantStore, MemoryGrantStore, TableGrantStore
from shared.identity.hub_tokens import HubTokens, SigningKeys
from shared.identity.idp import MsalIdentityProvider, MsalOnBehalfOf
from shared.identity.jwks import JwksCache
from shared.identity.managed import ManagedIdentityTokens
from shared.identity.public_fetch import PublicFetcher
from shared.identity.tokens import (
    CachedVerifier,
    EntraTokenVerifier,
    HubOrEntraVerifier,
    NoAuthentication,
    TokenVerifier,
)
from shared.identity.upstream_auth import UpstreamCredentials
from shared.limits.registrations import RegistrationLimiter
from shared.sealing import Sealer, parse_keys, read_or_create_key_file
from shared.settings import AuthSettings, HubSettings, ServerSettings

log = logging.getLogger("mcphub")


@dataclass(frozen=True)
class Identity:
    verifier: TokenVerifier
    oauth: AuthorizationServer | None
    authorization_servers: list[str]
    sealer: Sealer
    grants: GrantStore
    registrations: RegistrationLimiter | None = None  # set by _deps once the shared budgets exist
    credentials: UpstreamCredentials | None = None
    connect: ConnectPages | None = None


def with_credentials(
    identity: Identity,
    settings: HubSettings,
    auth: AuthSettings,
    servers: Mapping[str, ServerSettings],
    clock: Callable[[], float],
    closing: Closing,
) -> Identity:
    """Add upstream credentials (and the connect pages) when some server needs them."""
    modes = {server.auth for server in servers.values()}
    if modes <= {"none"}:
        return identity
    user_modes = sorted(name for name, s in servers.items() if s.auth in ("user_token", "user_oauth"))
    if user_modes and settings.public_url is None:
        raise ConfigError(f"MCPHUB_PUBLIC_URL: servers {user_modes} need it for their connect links")
    public_url = str(settings.public_url or "http://127.0.0.1").rstrip("/")
    vault = CredentialVault(identity.grants, identity.sealer, clock=clock)
    tickets = ConnectTickets(identity.sealer, clock=clock)
    http = closing.add(httpx.AsyncClient(timeout=15.0, follow_redirects=False))
    obo = None
    if "obo" in modes:
        if not (auth.client_id and auth.client_secret):
            raise ConfigError("MCPHUB_AUTH__CLIENT_ID/CLIENT_SECRET: on-behalf-of servers need the hub's Entra app")
        obo = MsalOnBehalfOf(_msal(auth), clock=clock)
    managed = closing.add(ManagedIdentityTokens()) if "managed_identity" in modes else None
    credentials = UpstreamCredentials(
        vault, tickets, public_url=public_url, http=http, clock=clock, obo=obo, managed=managed
    )
    if user_modes and identity.oauth is None and auth.mode != "off":
        raise ConfigError(
            f"servers {user_modes} let users connect their own credentials: the connect page signs them in "
            "through the hub's OAuth facade, so set MCPHUB_AUTH__CLIENT_ID and MCPHUB_AUTH__CLIENT_SECRET"
        )
    connect = ConnectPages(
        servers,
        vault,
        tickets,
        credentials,
        grants=identity.grants,
        sealer=identity.sealer,
        public_url=public_url,
        http=http,
        clock=clock,
        oauth=identity.oauth,
    )
    if identity.oauth is not None and user_modes:
        pages = tuple(connect.signed_in_uri(name) for name in user_modes)
        identity.oauth.trust_first_party(Client(CONNECT_PAGE_CLIENT, pages, "MCPHub connect page"))
    return replace(identity, credentials=credentials, connect=connect)


def _msal(auth: AuthSettings, auth_contexts: Sequence[str] = ()) -> MsalIdentityProvider:
    return MsalIdentityProvider(
        auth_contexts=auth_contexts,
        client_id=str(auth.client_id),
        client_secret=auth.client_secret.get_secret_value() if auth.client_secret else "",
        authority=auth.msal_authority,
        oidc_authority=auth.oidc_authority,
        ca_file=auth.ca_file,
    )


def _sealer(settings: HubSettings, connection: str | None) -> Sealer:
    if settings.vault_keys is not None:
        return Sealer(parse_keys(settings.vault_keys.get_secret_value()))
    if settings.vault_key_file:
        return Sealer(parse_keys(read_or_create_key_file(Path(settings.vault_key_file))))
    if connection:
        # Local development: every instance derives the same key from the storage key it shares.
        log.warning("MCPHUB_VAULT_KEYS is not set: secrets at rest use a key derived from the storage key")
        return Sealer([hashlib.sha256(b"mcphub-vault\0" + connection.encode()).digest()])
    return Sealer([secrets.token_bytes(32)])


def _authority_client(auth: AuthSettings) -> httpx.AsyncClient:
    # The authority's keys are fetched with their own client: TLS verified, optionally with the
    # local authority's CA, and no connection shared with upstream traffic.
    verify = ssl.create_default_context(cafile=auth.ca_file) if auth.ca_file else True
    return httpx.AsyncClient(verify=verify, timeout=10.0, follow_redirects=False)


def build_identity(
    settings: HubSettings,
    auth: AuthSettings,
    connection: str | None,
    clock: Callable[[], float],
    closing: Closing,
    auth_contexts: Sequence[str] = (),
) -> Identity:
    sealer = _sealer(settings, connection)
    grants: GrantStore = (
        closing.add(TableGrantStore.from_connection_string(connection, settings.grants_table))
        if connection
        else MemoryGrantStore()
    )
    if auth.mode == "off":
        log.warning(
            "AUTHENTICATION IS OFF (MCPHUB_AUTH__MODE=off): anyone who reaches this hub uses every server "
            "as one shared anonymous user. Never run it like this outside your own machine."
        )
        return Identity(NoAuthentication(), None, [], sealer, grants)
    http = closing.add(_authority_client(auth))
    entra = EntraTokenVerifier(auth, JwksCache(http, clock=clock, refresh_interval=auth.jwks_refresh_seconds))
    log.info("tokens accepted from tenant(s) %s for audience(s) %s", auth.tenants, auth.audiences)
    if not auth.facade:
        verifier = CachedVerifier(entra, clock=clock)
        return Identity(verifier, None, auth.metadata_authorization_servers, sealer, grants)
    if settings.public_url is None:
        raise ConfigError("MCPHUB_PUBLIC_URL: the OAuth facade needs the hub's public origin (its token issuer)")
    issuer = str(settings.public_url).rstrip("/")
    if auth.client_id is None or auth.client_secret is None:  # auth.facade checked both; this tells pyright
        raise ConfigError("MCPHUB_AUTH__CLIENT_ID and MCPHUB_AUTH__CLIENT_SECRET are both needed")
    tokens = HubTokens(
        SigningKeys(grants, sealer, clock=clock),
        issuer=issuer,
        scope=auth.scope,
        lifetime_seconds=auth.access_token_seconds,
        clock_skew_seconds=auth.clock_skew_seconds,
        clock=clock,
    )
    idp = _msal(auth, auth_contexts)
    # The operator page (functions/pages_http.py) signs in through the facade like an IDE does.
    operator_page = Client(OPERATOR_PAGE_CLIENT, (f"{issuer}/operator",), "MCPHub operator page")
    clients = ClientRegistry(
        grants,
        clock=clock,
        schemes=auth.redirect_schemes,
        web_redirects=auth.web_redirects,
        # Client ID metadata documents: fetched only from checked public addresses (public_fetch.py).
        fetch=PublicFetcher(closing.add(httpx.AsyncClient(timeout=5.0, follow_redirects=False, trust_env=False))),
        first_party=[operator_page],
    )
    oauth = AuthorizationServer(
        issuer=issuer,
        tenants=frozenset(auth.tenants),
        scope=auth.scope,
        grants=grants,
        clients=clients,
        idp=idp,
        tokens=tokens,
        sealer=sealer,
        clock=clock,
        refresh_seconds=auth.refresh_token_days * 24 * 3600,
        refresh_grace_seconds=auth.refresh_grace_seconds,
    )
    log.info("OAuth facade on at %s (sign-in through %s)", issuer, auth.oidc_authority or auth.msal_authority)
    verifier = CachedVerifier(HubOrEntraVerifier(tokens, entra), clock=clock)
    return Identity(verifier, oauth, [issuer], sealer, grants)
