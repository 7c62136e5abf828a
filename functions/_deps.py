"""Composition root: settings, clients and services built once per worker and reused by every call.

Nothing here runs at import time, so `function_app` imports fast (cold start) and a bad setting
is reported by the first request and the log instead of crashing the host's function indexing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache

import httpx

from functions._identity import Identity, build_identity, with_credentials
from functions._operations import Operations, build_operations
from functions._routing import Routing, build_routing
from functions._scaling import Scaling, build_scaling
from functions._telemetry import configure_telemetry
from shared.closing import Closing
from shared.health.flusher import SampleFlusher
from shared.health.lease import Lease
from shared.health.probe import HealthProbe
from shared.health.recorder import HealthRecorder
from shared.health.samples import MemorySampleStore, SampleStore, TableSampleStore
from shared.health.self_check import SelfCheck
from shared.hub.aggregate import Aggregator
from shared.hub.asks import Asks
from shared.hub.relay import RelayCodec
from shared.hub.service import HubService
from shared.hub.upstream_sessions import HUB_INFO, UpstreamSessions
from shared.identity.access import roles_across_tenants
from shared.identity.client_address import warn_if_untrusted
from shared.limits.registrations import RegistrationLimiter
from shared.limits.rules import LimitRule, load_limits
from shared.operations_settings import OperationsSettings
from shared.plugins.chain import PluginChain
from shared.plugins.reporting import reporter
from shared.plugins.settings import PluginSettings, load_plugin_settings
from shared.sessions.cache import SessionCache
from shared.sessions.ids import SessionIds
from shared.sessions.memory import MemorySessionStore
from shared.sessions.store import SessionStore
from shared.sessions.table import TableSessionStore
from shared.settings import (
    AuthSettings,
    HubSettings,
    RoutingSettings,
    ScalingSettings,
    ServerSettings,
    load_auth,
    load_servers,
)
from shared.tenants import Tenants, load_tenants
from shared.upstreams.aiohttp_transport import stream_transport, upstream_transport
from shared.upstreams.breaker import CircuitBreaker
from shared.upstreams.catalog import Catalog
from shared.upstreams.client import HttpUpstreamClient

log = logging.getLogger("mcphub")


@dataclass(frozen=True)
class HubConfig:
    """Everything a hub is configured with; `load_config` reads it from the environment once."""

    settings: HubSettings
    auth: AuthSettings
    servers: dict[str, ServerSettings]
    routing: RoutingSettings
    operations: OperationsSettings
    limits: list[LimitRule]
    storage: str | None  # Table Storage connection string; None keeps everything in this process
    plugins: list[PluginSettings] = field(default_factory=list[PluginSettings])  # by priority
    tenants: Tenants = field(default_factory=Tenants)
    scaling: ScalingSettings = field(default_factory=ScalingSettings)


def load_config(environ: Mapping[str, str]) -> HubConfig:
    settings = HubSettings()
    tenants = load_tenants(environ)
    environ = tenants.resolve(environ)  # settings that name tenants take aliases
    servers = load_servers(environ)
    connection = (
        settings.storage_connection_string.get_secret_value()
        if settings.storage_connection_string
        else environ.get("AzureWebJobsStorage", "")
    )
    return HubConfig(
        settings,
        load_auth(environ),
        servers,
        RoutingSettings(),
        OperationsSettings(),
        load_limits(environ, servers),
        connection or None,
        load_plugin_settings(environ, servers),
        tenants,
        ScalingSettings(),
    )


@dataclass(frozen=True)
class Hub:
    settings: HubSettings
    auth: AuthSettings
    identity: Identity
    servers: dict[str, ServerSettings]
    store: SessionStore
    sessions: SessionCache
    service: HubService
    breakers: dict[str, CircuitBreaker]
    health: HealthRecorder
    samples: SampleFlusher
    probe: HealthProbe
    sample_store: SampleStore
    routing: Routing | None
    ops: Operations
    http: httpx.AsyncBaseTransport  # the upstream connection pool
    catalog: Catalog
    closing: Closing
    plugins: list[PluginSettings]  # as configured, by priority (disabled ones too)
    tenants: Tenants = field(default_factory=Tenants)  # the aliases
    scaling: Scaling | None = None  # the capacity controller (MCPHUB_SCALING__MODE)

    async def holds(self, lease: Lease, name: str, *, ttl: float, now: float) -> bool:
        """Whether this instance holds (or now takes) the lease `name`: the timers that only one
        instance runs at a time ask this first."""
        return await lease.acquire(name, f"{self.settings.region}/{self.settings.instance_name}", ttl=ttl, now=now)

    async def aclose(self) -> None:
        """Finish what is under way, write what is buffered, then close every client this hub opened."""
        await self.service.drain()
        await self.sessions.drain()
        await self.samples.wait()
        await self.ops.audit.flush()
        await self.ops.usage.flush()
        await self.closing.aclose()


def _storage(settings: HubSettings, connection: str | None, closing: Closing) -> tuple[SessionStore, bytes]:
    relay_key = settings.relay_key.get_secret_value().encode() if settings.relay_key else None
    if connection and ("AccountKey=" in connection or connection.startswith("UseDevelopmentStorage")):
        # Every instance knows the storage key, so it can derive the same relay key without more config.
        derived = hashlib.sha256(b"mcphub-relay\0" + connection.encode()).digest()
        store = closing.add(TableSessionStore.from_connection_string(connection, settings.sessions_table))
        return store, relay_key or derived
    log.warning(
        "no Table Storage configured (MCPHUB_STORAGE_CONNECTION_STRING / AzureWebJobsStorage): sessions live "
        "in this process only, so a second instance cannot serve them"
    )
    return MemorySessionStore(), relay_key or secrets.token_bytes(32)


@cache
def hub() -> Hub:
    """This worker's hub, built once from the environment on first use."""
    configure_telemetry(os.environ)
    return build_hub(load_config(os.environ))


def build_hub(
    config: HubConfig,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> Hub:
    """A hub from its parts: `transport` reaches the upstreams (aiohttp's pool unless given), `clock`
    is wall-clock time (sessions, tokens, samples), `monotonic` measures intervals."""
    settings, auth, servers, connection = config.settings, config.auth, config.servers, config.storage
    closing = Closing()
    store, relay_key = _storage(settings, connection, closing)
    sessions = SessionCache(
        store,
        clock=clock,
        ttl_seconds=settings.session_ttl_seconds,
        touch_seconds=settings.session_touch_seconds,
        max_entries=settings.session_cache_size,
        ids=SessionIds(relay_key),
        write_behind_seconds=settings.session_write_behind_seconds,
    )
    http = closing.add(transport or upstream_transport())
    streams = transport or closing.add(stream_transport())  # a given transport carries both
    breakers = {
        name: CircuitBreaker(
            failures=settings.breaker_failures, reset_seconds=settings.breaker_reset_seconds, clock=monotonic
        )
        for name in servers
    }
    contexts = sorted({s.auth_context for s in servers.values() if s.auth_context})
    identity = build_identity(settings, auth, connection, clock, closing, contexts)
    identity = with_credentials(identity, settings, auth, servers, clock, closing)
    ops = build_operations(
        settings,
        connection,
        clock,
        identity.sealer,
        closing,
        settings=config.operations,
        rules=config.limits,
        per_tenant=auth.multi_tenant,
    )
    limiter = RegistrationLimiter(ops.budgets, per_hour=auth.registrations_per_hour, clock=clock)
    identity = replace(identity, registrations=limiter)
    warn_if_untrusted(settings.front_door_id)
    # Wall-clock time: samples of every instance and region are compared by when they were taken.
    self_check = (
        SelfCheck(clock=monotonic, hold_seconds=settings.health_failing_hold_seconds)
        if settings.health_failing_hold_seconds > 0
        else None
    )
    health = HealthRecorder(region=settings.region, instance=settings.instance_name, clock=clock, self_check=self_check)
    client = HttpUpstreamClient(
        http,
        streams=streams,
        breakers=breakers,
        observer=lambda server, seconds, outcome: health.record(f"up:{server}", seconds, outcome),
    )
    upstreams = UpstreamSessions(client, sessions, identity.credentials)
    catalog = Catalog(ttl_seconds=settings.list_ttl_seconds, clock=monotonic)
    plugins = PluginChain.load(config.plugins, report=reporter(ops.usage.plugin), clock=clock)
    aggregator = Aggregator(
        servers, upstreams, catalog, fanout_deadline=settings.fanout_deadline_seconds, plugins=plugins
    )
    service = HubService(
        settings,
        servers,
        sessions,
        upstreams,
        aggregator,
        RelayCodec(relay_key),
        auth=auth,
        verifier=identity.verifier,
        calls=ops.calls,
        refused=lambda kind: health.record(f"refused:{kind}", 0.0, "error"),
        plugins=plugins,
        asks=Asks(relay_key, identity.grants, clock=clock, timeout_seconds=settings.ask_timeout_seconds),
    )
    for warning in roles_across_tenants(auth.tenants if auth.multi_tenant else (), servers):
        log.warning(warning)
    log.info("hub ready: %d upstream server(s): %s", len(servers), ", ".join(servers) or "none")
    if plugins.names:
        log.info("plugins on /mcp, in order: %s", ", ".join(plugins.names))
    sample_store: SampleStore = (
        closing.add(TableSampleStore.from_connection_string(connection, settings.health_table))
        if connection
        else MemorySampleStore()
    )
    flusher = SampleFlusher(health, sample_store, interval=settings.health_flush_seconds, clock=monotonic)
    probe = HealthProbe(
        # A well-formed ID that is never issued: malformed ones are refused before storage is asked.
        check_storage=lambda: store.get("health-probe".ljust(43, "0"), now=clock(), ttl_seconds=1.0),
        breakers=breakers,
        audit_dropped=lambda: ops.audit.dropped,
        streams=service.streams,
        self_check=self_check,
        region=settings.region,
        instance=settings.instance_name,
        version=HUB_INFO["version"],
        clock=monotonic,
    )
    routing = build_routing(config.routing, identity.grants, connection, clock, closing, sample_store)
    scaling = build_scaling(config.scaling, identity.grants, connection, clock, closing)
    return Hub(
        settings,
        auth,
        identity,
        servers,
        store,
        sessions,
        service,
        breakers,
        health,
        flusher,
        probe,
        sample_store,
        routing,
        ops,
        http,
        catalog,
        closing,
        config.plugins,
        config.tenants,
        scaling,
    )
