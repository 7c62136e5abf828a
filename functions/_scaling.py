"""Composition of the capacity controller: a Flex target per region, its lease (part of the root)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from shared.arm import ArmClient
from shared.closing import Closing
from shared.forecast.capacity import CapacitySettings
from shared.forecast.flex import FlexScaleTarget, ScaleTarget
from shared.forecast.scaling import Guardrails, ScalingController
from shared.health.lease import Lease, MemoryLease, TableLease
from shared.identity.grants import GrantStore
from shared.identity.managed import ManagedIdentityTokens
from shared.settings import ScalingSettings


@dataclass(frozen=True)
class Scaling:
    controller: ScalingController
    lease: Lease
    settings: ScalingSettings


def guardrails(settings: ScalingSettings) -> Guardrails:
    return Guardrails(
        mode="apply" if settings.mode == "apply" else "dry-run",
        floors=settings.floor_map,
        ceilings=settings.ceiling_map,
        default_floor=settings.default_floor,
        default_ceiling=settings.default_ceiling,
        cooldown_seconds=settings.cooldown_seconds,
        max_step=settings.max_step,
        max_maximum_step=settings.max_maximum_step,
        horizon_seconds=settings.horizon_seconds,
        headroom=settings.headroom,
    )


def build_scaling(
    settings: ScalingSettings,
    grants: GrantStore,
    connection: str | None,
    clock: Callable[[], float],
    closing: Closing,
    *,
    targets: dict[str, ScaleTarget] | None = None,
) -> Scaling | None:
    """`targets` replaces the Flex targets (the local drill and tests give in-memory ones)."""
    if settings.mode == "off":
        return None
    if targets is None:
        http = closing.add(httpx.AsyncClient(timeout=30.0))
        tokens = closing.add(ManagedIdentityTokens())
        arm = ArmClient(http, tokens, scope=f"{settings.arm_endpoint}/.default")
        targets = {
            region: FlexScaleTarget(http, tokens, site_id=site, arm=arm, endpoint=settings.arm_endpoint)
            for region, site in settings.site_map.items()
        }
    controller = ScalingController(
        targets, grants, clock=clock, guardrails=guardrails(settings), capacity=CapacitySettings()
    )
    lease: Lease = (
        closing.add(TableLease.from_connection_string(connection, "mcphubleases")) if connection else MemoryLease()
    )
    return Scaling(controller, lease, settings)
