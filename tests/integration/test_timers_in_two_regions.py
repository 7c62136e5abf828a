"""Each timer runs once per region against the shared store, in the same minute: its work must hold.

Two "regions" here are two sets of clients over one Azurite table, run concurrently.
"""

from __future__ import annotations

import asyncio
import os
import secrets

import pytest

from shared.identity.grants import TableGrantStore
from shared.identity.hub_tokens import KIND, SigningKeys
from shared.sealing import Sealer
from shared.sessions.model import SessionRecord, new_session_id
from shared.sessions.table import TableSessionStore

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
DAY = 24 * 3600.0


async def test_two_regions_rotating_at_once_make_one_new_key_and_retire_the_old(
    storage_connection_string: str,
) -> None:
    table = f"grants{secrets.token_hex(4)}"
    sealer = Sealer([os.urandom(32)])
    now = [1_000_000.0]
    regions = [TableGrantStore.from_connection_string(storage_connection_string, table) for _ in range(2)]
    try:
        first = SigningKeys(regions[0], sealer, clock=lambda: now[0])
        old = (await first.active()).kid
        now[0] += 31 * DAY
        keys = [SigningKeys(store, sealer, clock=lambda: now[0]) for store in regions]
        rotated = await asyncio.gather(*(k.rotate_if_older(30 * DAY) for k in keys * 2))
        made = [kid for kid in rotated if kid is not None]
        assert len(made) == 1, rotated
        stored = dict(await regions[0].items(KIND, now=now[0]))
        assert set(stored) == {old, made[0]}
        for region in keys:  # each verifies what the other signs (the loser reloads on an unknown kid)
            assert await region.public_key(made[0]) is not None
    finally:
        for store in regions:
            await store.close()


async def test_many_instances_needing_a_first_key_at_once_agree_on_one(storage_connection_string: str) -> None:
    table = f"grants{secrets.token_hex(4)}"
    sealer = Sealer([os.urandom(32)])
    stores = [TableGrantStore.from_connection_string(storage_connection_string, table) for _ in range(4)]
    try:
        active = await asyncio.gather(*(SigningKeys(store, sealer).active() for store in stores))
        assert len({key.kid for key in active}) == 1
        assert len(await stores[0].items(KIND, now=0.0)) == 1
    finally:
        for store in stores:
            await store.close()


async def test_two_regions_purging_sessions_at_once_both_finish_and_purge_each_once(
    storage_connection_string: str,
) -> None:
    table = f"sessions{secrets.token_hex(4)}"
    regions = [TableSessionStore.from_connection_string(storage_connection_string, table) for _ in range(2)]
    try:
        for _ in range(20):
            record = SessionRecord(new_session_id(), "", "t:user", "2025-11-25", {}, {})
            await regions[0].create(record)
        purged = await asyncio.gather(*(store.purge_expired(now=10 * DAY, ttl_seconds=DAY) for store in regions))
        assert sum(purged) == 20
    finally:
        for store in regions:
            await store.close()
