"""A region's Flex Consumption scale settings, behind one Protocol: always-ready instances (of the
`http` group, which serves every HTTP function) and the maximum instance count.

`FlexScaleTarget` reads and writes them on the Function App through ARM with the managed identity
(role: Website Contributor on the two sites). It does what `az functionapp scale config set` and
`az functionapp scale config always-ready set` do (azure-cli 2.91.0, `update_flex_functionapp`):
GET the site, change `functionAppConfig.scaleAndConcurrency`, PUT the site back, so every other
setting is sent as it was read. Asking for what is already set sends nothing.
`MemoryScaleTarget` is its stand-in (tests, `make drill-scale`); both pass one contract suite.

What ARM refuses is refused here first (`check_scale`): a negative always-ready count, a maximum
outside 1-1000 (Flex's documented range; a region's Flex SKU listing can publish a narrower one),
and more always-ready instances than the maximum.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Protocol, cast

import httpx

from shared.arm import ARM, ArmClient, ArmError
from shared.identity.credentials import TokenSource

WEB_API_VERSION = "2024-04-01"
HTTP_GROUP = "http"
MAXIMUM_INSTANCES = (1, 1000)


class ScaleRefused(Exception):
    """The settings cannot be read or set (ARM refused, or they break a rule ARM enforces)."""


@dataclass(frozen=True, slots=True)
class Scale:
    always_ready: int
    maximum_instances: int

    def as_dict(self) -> dict[str, int]:
        return {"alwaysReady": self.always_ready, "maximumInstances": self.maximum_instances}


def check_scale(scale: Scale) -> None:
    low, high = MAXIMUM_INSTANCES
    if scale.always_ready < 0:
        raise ScaleRefused(f"always-ready instances cannot be negative ({scale.always_ready})")
    if not low <= scale.maximum_instances <= high:
        raise ScaleRefused(f"maximum instances must be {low}-{high} ({scale.maximum_instances})")
    if scale.always_ready > scale.maximum_instances:
        raise ScaleRefused(
            f"always-ready instances ({scale.always_ready}) exceed the maximum ({scale.maximum_instances})"
        )


class ScaleTarget(Protocol):
    async def current(self) -> Scale: ...

    async def apply(self, wanted: Scale) -> Scale:
        """Set both; returns what is set. ScaleRefused for what ARM refuses or when it fails."""
        ...


class MemoryScaleTarget:
    def __init__(self, scale: Scale) -> None:
        check_scale(scale)
        self._scale = scale
        self.writes = 0

    async def current(self) -> Scale:
        return self._scale

    async def apply(self, wanted: Scale) -> Scale:
        check_scale(wanted)
        if wanted != self._scale:
            self._scale = wanted
            self.writes += 1
        return self._scale


class FlexScaleTarget:
    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenSource,
        *,
        site_id: str,
        arm: ArmClient | None = None,
        endpoint: str = ARM,
    ) -> None:
        if not site_id.startswith("/subscriptions/") or "/providers/Microsoft.Web/sites/" not in site_id:
            raise ValueError(f"not a Function App resource ID: {site_id!r}")
        self._url = f"{endpoint.rstrip('/')}{site_id}?api-version={WEB_API_VERSION}"
        self._arm = arm or ArmClient(http, tokens)
        self.writes = 0

    async def _site(self) -> dict[str, Any]:
        try:
            return cast(dict[str, Any], (await self._arm.call("GET", self._url)).json())
        except ArmError as error:
            raise ScaleRefused(f"reading the site: {error}") from error

    async def current(self) -> Scale:
        return _scale_of(await self._site())

    async def apply(self, wanted: Scale) -> Scale:
        check_scale(wanted)
        site = await self._site()
        if _scale_of(site) == wanted:
            return wanted  # already so: no write
        body = copy.deepcopy(site)
        scale = _scale_config(body)
        others = [g for g in _groups(scale) if g.get("name") != HTTP_GROUP]
        ready = [{"name": HTTP_GROUP, "instanceCount": wanted.always_ready}] if wanted.always_ready else []
        scale["alwaysReady"] = ready + others
        scale["maximumInstanceCount"] = wanted.maximum_instances
        try:
            response = await self._arm.call("PUT", self._url, body)
            self.writes += 1
            if response.status_code == 202:
                await self._arm.wait(response)
                return await self.current()
        except ArmError as error:
            raise ScaleRefused(f"setting {wanted.as_dict()}: {error}") from error
        return _scale_of(response.json())


def _scale_config(site: dict[str, Any]) -> dict[str, Any]:
    properties = cast(dict[str, Any], site.get("properties") or {})
    config = cast(dict[str, Any] | None, properties.get("functionAppConfig"))
    if not config or not isinstance(config.get("scaleAndConcurrency"), dict):
        raise ScaleRefused("the site has no functionAppConfig.scaleAndConcurrency: it is not on Flex Consumption")
    return cast(dict[str, Any], config["scaleAndConcurrency"])


def _groups(scale: dict[str, Any]) -> list[dict[str, Any]]:
    return cast(list[dict[str, Any]], scale.get("alwaysReady") or [])


def _scale_of(site: dict[str, Any]) -> Scale:
    scale = _scale_config(site)
    ready = sum(int(g.get("instanceCount", 0)) for g in _groups(scale) if g.get("name") == HTTP_GROUP)
    return Scale(always_ready=ready, maximum_instances=int(scale.get("maximumInstanceCount", 100)))
