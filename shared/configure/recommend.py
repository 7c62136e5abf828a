"""The catalog of MCP servers (a snapshot in the official registry's `server.json` shape) and the
recommender: a team's needs in plain words → ranked servers with the words that matched → the
exact settings, checked by the same validator the hub runs at start.

Secrets never get a value here: servers where each user brings a token use AUTH=user_token (users
connect through the hub's page); anything the operator must still fill in is marked REPLACE-ME.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

from shared.search.index import ToolDoc, ToolIndex, expand, words
from shared.settings import SERVER_PREFIX, ServerSettings, load_servers

REGISTRY = Path(__file__).with_name("registry.json")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "keep",
        "of",
        "on",
        "or",
        "our",
        "the",
        "their",
        "this",
        "to",
        "use",
        "we",
        "with",
    ]
)
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class CatalogEntry:
    registry_name: str
    title: str
    description: str
    url: str
    auth: str
    secret: str  # what a user pastes for user_token servers
    keywords: str

    @property
    def key(self) -> str:
        """The hub's name for it: the registry name's last part, in the hub's server-name alphabet."""
        namespace, _, last = self.registry_name.rpartition("/")
        vendor = namespace.rsplit(".", 1)[-1]
        last = last.removesuffix("-mcp-server").removesuffix("-mcp")
        if last in ("mcp", "server", "mcp-server", ""):
            last = vendor  # com.stripe/mcp → stripe
        elif last == "docs":
            last = f"{vendor}-docs"
        return re.sub(r"[^a-z0-9]+", "-", last.lower()).strip("-") or "server"

    @property
    def text(self) -> str:
        return f"{self.title} {self.description} {self.keywords}"


@dataclass(frozen=True)
class Suggestion:
    entry: CatalogEntry
    score: float
    reasons: list[str]  # the words of the request this server answers


@cache
def catalog(path: Path = REGISTRY) -> tuple[CatalogEntry, ...]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    entries: list[CatalogEntry] = []
    for server in cast(list[dict[str, Any]], raw["servers"]):
        remote = server["remotes"][0]
        extra = server.get("_meta", {}).get("io.mcphub/catalog", {})
        headers = cast(list[dict[str, Any]], remote.get("headers") or [])
        secret = next((str(h.get("description", "")) for h in headers if h.get("isSecret")), "")
        entry = CatalogEntry(
            registry_name=server["name"],
            title=server["title"],
            description=server["description"],
            url=remote["url"],
            auth=extra.get("auth", "none"),
            secret=secret,
            keywords=extra.get("keywords", ""),
        )
        entries.append(entry)
    return tuple(entries)


class Recommender:
    def __init__(self, entries: tuple[CatalogEntry, ...] | None = None) -> None:
        self._entries = {entry.key: entry for entry in (entries or catalog())}
        self._index = ToolIndex()
        for key, entry in self._entries.items():
            self._index.replace(key, [ToolDoc(key, key, f"{entry.title}. {entry.description}", entry.keywords)])

    def recommend(self, need: str, k: int = 5, *, min_score: float = 0.05) -> list[Suggestion]:
        hits = [hit for hit in self._index.search(need, k, None) if hit.score >= min_score]
        asked = {w for w in _WORD.findall(expand(words(need))) if w not in _STOP and len(w) > 1}
        out: list[Suggestion] = []
        for hit in hits:
            entry = self._entries[hit.doc.server]
            offered = set(_WORD.findall(expand(entry.text.lower())))
            out.append(Suggestion(entry, round(hit.score, 4), sorted(asked & offered)))
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
    return Recommender()  # once per worker; scikit-learn loads on its first search


def recommendation(recommender: Recommender, need: str, k: int, configured: frozenset[str]) -> dict[str, Any]:
    """Ranked servers for `need` with why, and the settings and Bicep lines that add the clear
    matches (within half the best score) not `configured` (by URL) yet; secrets left REPLACE-ME."""
    suggestions = recommender.recommend(need, k)
    top = suggestions[0].score if suggestions else 0.0
    chosen = [s for s in suggestions if s.score >= 0.5 * top]
    env = settings_for([s.entry for s in chosen if s.entry.url not in configured])
    return {
        "need": need,
        "servers": [
            {
                "name": s.entry.key,
                "title": s.entry.title,
                "registryName": s.entry.registry_name,
                "url": s.entry.url,
                "auth": s.entry.auth,
                "score": s.score,
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
