"""Routing controllers: who decides which region serves, behind one Protocol.

`FrontDoorController` reads and PATCHes Azure Front Door (Standard/Premium) origins through the
ARM REST API with a managed-identity token (role: CDN Profile Contributor on the profile only);
`MemoryRoutingController` is its stand-in in tests and passes the same contract suite. Changes are
idempotent (asking for the current state sends nothing), and no controller will disable the last
enabled origin, nor the last enabled one that is up while the others are down: a hub with no
region at all is worse than a degraded one.

Whether an origin is up is what the router's own health checks say (`Origin.serving`). HAProxy
reports it (`srv_op_state`); Front Door's ARM origin resource does not (its probes' results are
only in its metrics), so Front Door origins always count as up here, and there only the last
enabled origin is protected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, cast

import httpx

from shared.arm import ARM, ArmClient, ArmError
from shared.identity.credentials import TokenSource

log = logging.getLogger(__name__)

API_VERSION = "2023-05-01"


class RoutingError(Exception):
    """A routing change was refused or could not be made."""


@dataclass(frozen=True, slots=True)
class Origin:
    name: str
    host: str
    enabled: bool
    priority: int = 1
    weight: int = 1000
    # Up by the router's own health checks (True where the router does not say). Not part of
    # equality: it is the router's observation, not the origin's configuration.
    serving: bool = field(default=True, compare=False)


class RoutingController(Protocol):
    async def origins(self) -> list[Origin]: ...

    def health_url(self, origin: Origin) -> str | None:
        """Where the origin's /health answers, for checking a drained region before restoring it."""
        ...

    async def update(
        self, name: str, *, enabled: bool | None = None, priority: int | None = None, weight: int | None = None
    ) -> Origin:
        """Change one origin (only what is given); RoutingError for an unknown origin or for
        disabling the last enabled one."""
        ...


def check_update(origins: list[Origin], name: str, enabled: bool | None) -> Origin:
    current = next((o for o in origins if o.name == name), None)
    if current is None:
        raise RoutingError(f"no origin named {name!r}")
    if enabled is False and current.enabled:
        others = [o for o in origins if o.enabled and o.name != name]
        if not others:
            raise RoutingError(f"refusing to disable {name!r}: it is the last enabled origin")
        if current.serving and not any(o.serving for o in others):
            down = ", ".join(repr(o.name) for o in others)
            raise RoutingError(f"refusing to disable {name!r}: it is the last enabled origin that is up ({down} down)")
    return current


class MemoryRoutingController:
    def __init__(self, origins: list[Origin]) -> None:
        self._origins = {o.name: o for o in origins}
        self.changes = 0

    def observe(self, name: str, *, serving: bool) -> None:
        """What the router's health checks would report for `name` (tests)."""
        self._origins[name] = replace(self._origins[name], serving=serving)

    async def origins(self) -> list[Origin]:
        return sorted(self._origins.values(), key=lambda o: o.name)

    def health_url(self, origin: Origin) -> str | None:
        return None

    async def update(
        self, name: str, *, enabled: bool | None = None, priority: int | None = None, weight: int | None = None
    ) -> Origin:
        current = check_update(list(self._origins.values()), name, enabled)
        wanted = replace(
            current,
            enabled=current.enabled if enabled is None else enabled,
            priority=current.priority if priority is None else priority,
            weight=current.weight if weight is None else weight,
        )
        if wanted != current:
            self._origins[name] = wanted
            self.changes += 1
        return wanted


class FrontDoorController:
    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenSource,
        *,
        subscription: str,
        resource_group: str,
        profile: str,
        origin_group: str,
        retries: int = 4,
        backoff_seconds: float = 1.0,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._group = (
            f"{ARM}/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.Cdn"
            f"/profiles/{profile}/originGroups/{origin_group}"
        )
        self._arm = ArmClient(http, tokens, retries=retries, backoff_seconds=backoff_seconds, sleep=sleep)
        self.writes = 0

    async def _call(self, method: str, url: str, body: dict[str, Any] | None = None) -> httpx.Response:
        try:
            return await self._arm.call(method, url, body)
        except ArmError as error:
            raise RoutingError(str(error)) from error

    def health_url(self, origin: Origin) -> str | None:
        return f"https://{origin.host}/health"

    async def origins(self) -> list[Origin]:
        origins: list[Origin] = []
        url: str | None = f"{self._group}/origins?api-version={API_VERSION}"
        while url:
            page = (await self._call("GET", url)).json()
            origins.extend(_origin(item) for item in page.get("value", []))
            url = page.get("nextLink")
        return sorted(origins, key=lambda o: o.name)

    async def update(
        self, name: str, *, enabled: bool | None = None, priority: int | None = None, weight: int | None = None
    ) -> Origin:
        current = check_update(await self.origins(), name, enabled)
        properties: dict[str, Any] = {}
        if enabled is not None and enabled != current.enabled:
            properties["enabledState"] = "Enabled" if enabled else "Disabled"
        if priority is not None and priority != current.priority:
            properties["priority"] = priority
        if weight is not None and weight != current.weight:
            properties["weight"] = weight
        if not properties:
            return current  # already so: no write, no Front Door propagation
        url = f"{self._group}/origins/{name}?api-version={API_VERSION}"
        response = await self._call("PATCH", url, {"properties": properties})
        self.writes += 1
        if response.status_code == 202:
            await self._wait(response)
            return next(o for o in await self.origins() if o.name == name)
        return _origin(response.json())

    async def _wait(self, accepted: httpx.Response) -> None:
        try:
            await self._arm.wait(accepted)
        except ArmError as error:
            raise RoutingError(f"Front Door origin update: {error}") from error


def _origin(item: dict[str, Any]) -> Origin:
    properties = cast(dict[str, Any], item.get("properties") or {})
    return Origin(
        name=str(item["name"]),
        host=str(properties.get("hostName", "")),
        enabled=properties.get("enabledState", "Enabled") == "Enabled",
        priority=int(properties.get("priority", 1)),
        weight=int(properties.get("weight", 1000)),
    )
