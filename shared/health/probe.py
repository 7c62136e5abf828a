"""`/health` as Front Door probes it: deep enough to mean something, cheap enough to poll.

Healthy (200) when this instance can reach its session store and is not failing its own callers
(`SelfCheck`: most of its recent MCP requests answered 5xx); the answer also names the region,
instance and version and each upstream's circuit-breaker state, and is cached for a few seconds so
probes from many Front Door edge sites cost one storage round trip. No secrets in it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from shared.health.self_check import SelfCheck
from shared.mcp.sse import OpenStreams
from shared.upstreams.breaker import CircuitBreaker

log = logging.getLogger(__name__)


class HealthProbe:
    def __init__(
        self,
        *,
        check_storage: Callable[[], Awaitable[object]],
        breakers: Mapping[str, CircuitBreaker],
        region: str,
        instance: str,
        version: str,
        clock: Callable[[], float],
        cache_seconds: float = 5.0,
        timeout_seconds: float = 2.0,
        audit_dropped: Callable[[], int] = lambda: 0,
        streams: OpenStreams | None = None,
        self_check: SelfCheck | None = None,
    ) -> None:
        self._streams = streams
        self._self_check = self_check
        self._audit_dropped = audit_dropped
        self._check_storage = check_storage
        self._breakers = breakers
        self._region = region
        self._instance = instance
        self._version = version
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._timeout = timeout_seconds
        self._cached: tuple[float, bool, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    async def report(self) -> tuple[bool, dict[str, Any]]:
        async with self._lock:
            if self._cached is None or self._clock() - self._cached[0] >= self._cache_seconds:
                healthy, body = await self._measure()
                self._cached = (self._clock(), healthy, body)
            _, healthy, body = self._cached
        if self._streams is not None:  # counted live (two integers): only the storage check is cached
            body = {**body, "streams": {"open": self._streams.now, "peak": self._streams.peak}}
        failing = self._self_check.failing() if self._self_check is not None else None
        if failing is not None:  # live too: a failing instance leaves at the next probe, not after the cache
            healthy, body = False, {**body, "status": "unhealthy", "requests": failing}
        return healthy, body

    async def _measure(self) -> tuple[bool, dict[str, Any]]:
        started = self._clock()
        try:
            async with asyncio.timeout(self._timeout):
                await self._check_storage()
            storage = {"ok": True, "ms": round((self._clock() - started) * 1000, 1)}
        except Exception as error:  # whatever fails, the store is unreachable from here: unhealthy
            log.warning("health probe: session storage unreachable (%s)", type(error).__name__)
            storage = {"ok": False, "error": type(error).__name__}
        breakers = {name: breaker.state for name, breaker in self._breakers.items()}
        healthy = bool(storage["ok"])
        dropped = self._audit_dropped()  # audit records lost on this instance: serving goes on, but say so
        degraded = any(s != "closed" for s in breakers.values()) or dropped > 0
        status = "unhealthy" if not healthy else ("degraded" if degraded else "ok")
        body = {
            "status": status,
            "region": self._region,
            "instance": self._instance,
            "version": self._version,
            "storage": storage,
            "servers": {name: {"breaker": state} for name, state in breakers.items()},
            "audit": {"dropped": dropped},
        }
        return healthy, body
