"""The catalog of MCP servers (the `server.json` files of the official MCP registry's servers that
serve Streamable HTTP, as their publishers wrote them: registry.json, built by
infra/registry_catalog.py) and the recommender: a team's needs in plain words → ranked servers
with the words that matched → the exact settings for those that fit, checked by the same
validator the hub runs at start.

Secrets never get a value here: servers where each user brings a token use AUTH=user_token (users
connect through the hub's page); anything the operator must still fill in is marked REPLACE-ME.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from shared.search.index import Hit, ToolDoc, words
from shared.settings import SERVER_PREFIX, ServerSettings, load_servers

if TYPE_CHECKING:
    from shared.search.hybrid import HybridIndex

REGISTRY = Path(__file__).with_name("registry.json")  # infra/registry_catalog.py builds it
KNOWN = Path(__file__).with_name("known.json")


@dataclass(frozen=True)
class CatalogEntry:
    registry_name: str
    title: str
    description: str
    url: str
    auth: str
    auth_header: str  # where the user's token goes (user_token)
    secret: str  # what a user pastes for user_token servers, as the publisher describes it
    headers: tuple[tuple[str, str], ...]  # other headers the publisher requires: (name, description)
    credentials: str  # where `auth` comes from: "server.json", "known.json" or "undeclared"
    key: str  # the hub's name for it, unique in the catalog

    @property
    def text(self) -> str:
        return f"{self.title} {words(self.key)} {self.description}"


@dataclass(frozen=True)
class Suggestion:
    entry: CatalogEntry
    score: float  # the fused rank score that orders suggestions
    match: float  # cosine of the need with the server's title and description
    reasons: list[str]  # the words of the request this server answers


_GENERIC = frozenset(["mcp", "server", "mcp-server", "remote-mcp-server", "main", "api-server", "registry"])
_NOT_VENDOR = frozenset(["ai", "app", "co", "com", "dev", "io", "github", "mcp", "net", "org", "www"])


def _keys(names: list[str]) -> dict[str, str]:
    """The hub's name for each registry name: its last part without "-mcp"/"-server" (the vendor's
    name when nothing is left: com.stripe/mcp → stripe); vendor-last where two would clash, and
    the whole registry name where even those clash."""

    def vendor(namespace: str) -> str:
        labels = [label for label in namespace.lower().split(".")[1:] if label not in _NOT_VENDOR]
        return labels[0] if labels else namespace.lower().split(".")[-1]

    def slug(text: str) -> str:
        return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "server"

    short: dict[str, str] = {}
    for name in names:
        namespace, _, last = name.rpartition("/")
        last = last.lower()
        for suffix in ("-mcp-server", "-mcp", "-server"):
            last = last.removesuffix(suffix)
        short[name] = slug(vendor(namespace) if last in _GENERIC or not last else last)

    def vendor_last(name: str) -> str:
        namespace, _, last = name.rpartition("/")
        return f"{vendor(namespace)}-{last}"

    keys = short
    for longer in (vendor_last, str):
        taken = Counter(keys.values())
        keys = {name: key if taken[key] == 1 else slug(longer(name)) for name, key in keys.items()}
    if len(set(keys.values())) != len(keys):
        raise ValueError("two catalog servers have the same hub name")
    return keys


@cache
def catalog(path: Path = REGISTRY, known: Path = KNOWN) -> tuple[CatalogEntry, ...]:
    """Each server.json as its publisher wrote it, at its first streamable-http remote. A secret
    header it declares becomes AUTH=user_token; where it declares none, `known.json` may say how
    the server signs users in (server.json has no field for OAuth)."""
    servers = cast(list[dict[str, Any]], json.loads(path.read_text(encoding="utf-8"))["servers"])
    credentials = cast(dict[str, dict[str, str]], json.loads(known.read_text(encoding="utf-8"))["servers"])
    keys = _keys([str(server["name"]) for server in servers])
    entries: list[CatalogEntry] = []
    for server in servers:
        name = str(server["name"])
        remote = next(r for r in server["remotes"] if r.get("type") == "streamable-http")
        declared = cast(list[dict[str, Any]], remote.get("headers") or [])
        secret = next((h for h in declared if h.get("isSecret")), None)
        auth = credentials.get(name, {})
        others = tuple(
            (str(h["name"]), str(h.get("description", ""))) for h in declared if h is not secret and h.get("isRequired")
        )
        entries.append(
            CatalogEntry(
                registry_name=name,
                title=str(server.get("title") or keys[name]),
                description=str(server["description"]),
                url=str(remote["url"]),
                auth="user_token" if secret else auth.get("auth", "none"),
                auth_header=str(secret["name"]) if secret else "Authorization",
                secret=str(secret.get("description", "")) if secret else auth.get("secret", ""),
                headers=others,
                credentials="server.json" if secret else "known.json" if auth else "undeclared",
                key=keys[name],
            )
        )
    return tuple(entries)


def document(entry: CatalogEntry) -> ToolDoc:
    """A server as the recommender indexes it: its title (or hub name) as the name, its description."""
    return ToolDoc(entry.key, entry.title, entry.description, "")


class Recommender:
    """The tool search's ranker (shared.search.hybrid: BM25F and the embedding model, fused by
    rank) over the catalog, one document per server; built on the first recommendation, which
    loads the model if the tool search has not yet."""

    def __init__(self, entries: tuple[CatalogEntry, ...] | None = None) -> None:
        self._entries = {entry.key: entry for entry in (entries or catalog())}
        self._index: HybridIndex | None = None
        self._lock = threading.Lock()

    def _search(self, need: str, k: int) -> list[Hit]:
        with self._lock:  # one at a time: the first search builds the index, later ones take ms
            if self._index is None:
                from shared.search.hybrid import HybridIndex  # numpy and the model: first use only

                self._index = HybridIndex()
                for key, entry in self._entries.items():
                    self._index.replace(key, [document(entry)])
            return self._index.search(need, k, None)

    def recommend(self, need: str, k: int = 5) -> list[Suggestion]:
        from shared.search.hybrid import tokens

        # Reasons in the words as written: lower-cased first, so "GitHub" stays one word.
        asked = set(tokens(need.lower()))
        out: list[Suggestion] = []
        for hit in self._search(need, k):
            entry = self._entries[hit.doc.server]
            reasons = sorted(asked & set(tokens(entry.text.lower())))
            out.append(Suggestion(entry, round(hit.score, 4), round(hit.match, 4), reasons))
        return out


def settings_for(entries: list[CatalogEntry]) -> dict[str, str]:
    """The environment variables that add `entries`, validated as the hub validates them at start."""
    env: dict[str, str] = {}
    for entry in entries:
        prefix = f"{SERVER_PREFIX}{entry.key.upper().replace('-', '_')}__"
        env[prefix + "URL"] = entry.url
        env[prefix + "DESCRIPTION"] = entry.title
        if entry.auth != "none":
            env[prefix + "AUTH"] = entry.auth
        if entry.auth == "user_token" and entry.auth_header.lower() != "authorization":
            env[prefix + "AUTH_HEADER"] = entry.auth_header
        for header, description in entry.headers:
            env[f"{prefix}HEADERS__{header.upper().replace('-', '_')}"] = f"REPLACE-ME: {description or header}"
        if entry.auth == "user_oauth":
            env[prefix + "OAUTH_AUTHORIZE_URL"] = f"https://REPLACE-ME.invalid/{entry.key}/authorize"
            env[prefix + "OAUTH_TOKEN_URL"] = f"https://REPLACE-ME.invalid/{entry.key}/token"
            env[prefix + "OAUTH_CLIENT_ID"] = f"REPLACE-ME: the OAuth client ID registered with {entry.title}"
            env[prefix + "OAUTH_CLIENT_SECRET"] = "REPLACE-ME: a Key Vault reference to the client secret"
        if entry.auth in ("obo", "managed_identity"):
            env[prefix + "SCOPE"] = f"api://REPLACE-ME-{entry.key}/.default"
    validate(env)
    return env


def validate(env: dict[str, str]) -> dict[str, ServerSettings]:
    """ConfigError (naming the variable) unless the hub would start with these settings."""
    return load_servers(env)


def bicep_for(env: dict[str, str]) -> str:
    """The same settings as entries of the `appSettings` object in bicep/main.parameters.json style;
    secret values become Key Vault references to fill in."""
    lines = ["// Add to the function app's settings (bicep/modules/functionapp.bicep `settings`):"]
    for name, value in env.items():
        if name.endswith("__OAUTH_CLIENT_SECRET"):
            value = "@Microsoft.KeyVault(SecretUri=https://REPLACE-ME.vault.azure.net/secrets/REPLACE-ME/)"
        escaped = value.replace("\\", "\\\\").replace("'", "\\'")
        lines.append(f"{name}: '{escaped}'")
    return "\n".join(lines)


@cache
def default_recommender() -> Recommender:
    return Recommender()  # once per worker; indexed on its first recommendation


def recommendation(recommender: Recommender, need: str, k: int, configured: frozenset[str]) -> dict[str, Any]:
    """Ranked servers for `need` with why, and the settings and Bicep lines that add those that fit
    (cosine at least the tool search's FITS) and are not `configured` (by URL) yet; secrets left
    REPLACE-ME. When none fits, the closest are still listed, and the answer says so."""
    from shared.search.hybrid import FITS

    suggestions = recommender.recommend(need, k)
    chosen = [s for s in suggestions if s.match >= FITS]
    env = settings_for([s.entry for s in chosen if s.entry.url not in configured])
    found: dict[str, Any] = {
        "need": need,
        "fits": bool(chosen),
        "servers": [
            {
                "name": s.entry.key,
                "title": s.entry.title,
                "registryName": s.entry.registry_name,
                "url": s.entry.url,
                "auth": s.entry.auth,
                "credentials": s.entry.credentials,
                "score": s.score,
                "match": s.match,
                "because": s.reasons,
                "alreadyConfigured": s.entry.url in configured,
                "inSettings": s in chosen,
            }
            for s in suggestions
        ],
        "settings": env,
        "bicep": bicep_for(env),
        "placeholders": sorted(name for name, value in env.items() if "REPLACE-ME" in value),
    }
    if suggestions and not chosen:
        found["nothingFits"] = "No server in the catalog fits this need well; the closest are listed."
    return found
