"""Composition of cross-region routing: the controller, the lease and the policy (part of the root)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from shared.closing import Closing
from shared.health.haproxy import HaproxyController
from shared.health.learned import LearnedRiskModel
from shared.health.lease import Lease, MemoryLease, TableLease
from shared.health.policy import PolicySettings, RoutingPolicy
from shared.health.retraining import RetrainedRiskModel, RiskRetrainer
from shared.health.risk import RiskModel, ThresholdModel
from shared.health.routing import FrontDoorController, RoutingController
from shared.health.samples import SampleStore
from shared.identity.grants import GrantStore
from shared.identity.managed import ManagedIdentityTokens
from shared.settings import RoutingSettings


class Routing:
    def __init__(
        self,
        policy: RoutingPolicy,
        lease: Lease,
        model: RiskModel,
        settings: RoutingSettings,
        retrainer: RiskRetrainer | None = None,
    ) -> None:
        self.policy = policy
        self.lease = lease
        self.model = model
        self.settings = settings
        self.retrainer = retrainer  # the learned model's daily retraining from recorded samples


def build_routing(
    settings: RoutingSettings,
    grants: GrantStore,
    connection: str | None,
    clock: Callable[[], float],
    closing: Closing,
    samples: SampleStore | None = None,
) -> Routing | None:
    if settings.kind == "none":
        return None
    controller: RoutingController
    if settings.kind == "frontdoor":
        controller = FrontDoorController(
            closing.add(httpx.AsyncClient(timeout=30.0)),
            closing.add(ManagedIdentityTokens()),
            subscription=settings.subscription,
            resource_group=settings.resource_group,
            profile=settings.profile,
            origin_group=settings.origin_group,
        )
    else:
        host, _, port = settings.haproxy_admin.rpartition(":")
        controller = HaproxyController(host, int(port))
    policy_settings = PolicySettings(
        drain_probability=settings.drain_probability,
        restore_after=settings.restore_after,
        cooldown_seconds=settings.cooldown_seconds,
        propagation_seconds=settings.propagation_seconds,
    )
    probes = closing.add(httpx.AsyncClient(timeout=3.0, follow_redirects=False))

    async def answers(url: str) -> bool:
        try:
            return (await probes.get(url)).status_code == 200
        except httpx.HTTPError:
            return False

    policy = RoutingPolicy(
        controller, grants, clock=clock, settings=policy_settings, origins=settings.origin_map, probe=answers
    )
    lease: Lease = (
        closing.add(TableLease.from_connection_string(connection, "mcphubleases")) if connection else MemoryLease()
    )
    retrainer: RiskRetrainer | None = None
    model: RiskModel
    if settings.model == "threshold":
        model = ThresholdModel()
    elif samples is not None and settings.retrain_days > 0:
        retrainer = RiskRetrainer(
            samples,
            grants,
            clock=clock,
            days=settings.retrain_days,
            held_back=settings.retrain_held_back,
            width=settings.window_seconds,
        )
        model = RetrainedRiskModel(retrainer)
    else:
        model = LearnedRiskModel()
    return Routing(policy, lease, model, settings, retrainer)
