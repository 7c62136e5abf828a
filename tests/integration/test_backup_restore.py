"""Backup and restore, Azurite to another Azurite, through the CLI operators run: every table comes
back with the same rows and checksums, a restore cut off half-way resumes where it stopped, a
damaged archive is refused before anything is written, and the audit chains still verify."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from azure.data.tables import EdmType, EntityProperty
from azure.data.tables.aio import TableClient

from infra.processes import ROOT, Child, Processes, azurite_connection_string
from shared.audit.sources import vault_keys
from shared.audit.store import TableAuditStore
from shared.audit.trail import AuditTrail
from shared.backup.archive import read_manifest
from shared.backup.transfer import count_rows, journal_path
from shared.call_record import CallRecord
from shared.sealing import Sealer
from shared.usage.meter import UsageMeter
from shared.usage.store import TableUsageStore

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
KEYS = Sealer([b"b" * 32])


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Child]:
    """A second storage account: another Azurite."""
    processes = Processes(Path(tmp_path_factory.mktemp("target")))
    yield processes.azurite()
    processes.stop_all()


@pytest.fixture(scope="module")
async def source(storage_connection_string: str) -> dict[str, Any]:
    """Tables of the shapes the hub writes, under names of this test, with every property type."""
    tag = uuid.uuid4().hex[:8]
    names = {"grants": f"g{tag}", "audit": f"a{tag}", "usage": f"u{tag}"}
    async with TableClient.from_connection_string(storage_connection_string, names["grants"]) as grants:
        await grants.create_table()
        rows = [
            {
                "PartitionKey": f"client-{n % 3}",
                "RowKey": f"r{n:04d}",
                "Sealed": f"v1.kid.{'x' * 40}.{n}",
                "Count": n,
                "Big": EntityProperty(2**40 + n, EdmType.INT64),
                "Ratio": n / 7,
                "Blob": bytes(range(n % 256)) * 2,
                "When": datetime(2026, 11, 25, 8, n % 60, tzinfo=UTC),
                "Id": EntityProperty(uuid.UUID(int=n), EdmType.GUID),
                "Active": n % 2 == 0,
                "Name": "Zoë ✓",
            }
            for n in range(900)
        ]
        for client in range(3):
            mine = [r for r in rows if r["PartitionKey"] == f"client-{client}"]
            for start in range(0, len(mine), 100):
                await grants.submit_transaction([("create", r) for r in mine[start : start + 100]])
    audit_store = TableAuditStore.from_connection_string(storage_connection_string, names["audit"])
    trail = AuditTrail(audit_store, vault_keys(KEYS), instance="weu-1", region="weu")
    for n in range(1200):
        trail.record("tool.call", at=1_764_000_000 + n * 6, user=f"t1:u{n % 9}", server="notes", outcome="ok")
    await trail.flush()
    await audit_store.close()
    usage_store = TableUsageStore.from_connection_string(storage_connection_string, names["usage"])
    meter = UsageMeter(usage_store, instance="weu-1", clock=lambda: 1_764_000_000.0)
    for n in range(300):
        meter(
            CallRecord(1_764_000_000 + n * 30, f"t1:u{n % 5}", "t1", "notes", "tools/call", "echo", "ok", 0.01, "weu")
        )
    await meter.flush()
    await usage_store.close()
    return {"connection": storage_connection_string, "names": names}


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


async def cli(*args: str, env: dict[str, str]) -> Run:
    """The CLI in its own process (asynchronously: the relay below lives on this event loop)."""
    with anyio.fail_after(120):
        done = await anyio.run_process(
            [sys.executable, "-m", "shared.backup", *args], cwd=ROOT, env={**os.environ, **env}, check=False
        )
    return Run(done.returncode, done.stdout.decode(), done.stderr.decode())


async def make_backup(source: dict[str, Any], archive: Path, connection: str | None = None) -> Run:
    tables = ",".join(source["names"].values())
    env = {"MCPHUB_BACKUP_CONNECTION_STRING": connection or source["connection"]}
    return await cli("backup", "--tables", tables, "--out", str(archive), env=env)


class ThrottledProxy:
    """A TCP relay that forwards requests until `budget` bytes have gone out, then holds the rest:
    the restore stops making progress mid-way, as during a network or storage outage."""

    def __init__(self, upstream_port: int, budget: int) -> None:
        self.upstream_port = upstream_port
        self.budget = budget
        self.released = asyncio.Event()
        self.port = 0

    async def __aenter__(self) -> ThrottledProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, metered: bool) -> None:
            try:
                while data := await src.read(65536):
                    if metered:
                        self.budget -= len(data)
                        if self.budget < 0:
                            await self.released.wait()
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))


async def test_a_backup_restored_into_another_account_matches_row_for_row_even_after_an_interruption(
    source: dict[str, Any], target: Child, tmp_path: Path
) -> None:
    archive = tmp_path / "hub.tar"
    made = await make_backup(source, archive)
    assert made.returncode == 0, made.stderr
    manifest = read_manifest(archive)
    assert {t.name: t.rows for t in manifest.tables}[source["names"]["grants"]] == 900
    assert all(t.rows > 0 for t in manifest.tables)
    target_connection = azurite_connection_string(target.port)

    async with ThrottledProxy(target.port, budget=200_000) as proxy:
        through_proxy = target_connection.replace(f":{target.port}/", f":{proxy.port}/")
        env = {"MCPHUB_RESTORE_CONNECTION_STRING": through_proxy}
        restoring = await anyio.open_process(
            [sys.executable, "-m", "shared.backup", "restore", str(archive)],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        journal = journal_path(archive, through_proxy)
        with anyio.fail_after(60):
            for _ in range(100_000):  # wait until some batches are in and the relay holds the rest
                if journal.exists() and proxy.budget < 0:
                    break
                await anyio.sleep(0.02)
        restoring.kill()
        await restoring.wait()
        interrupted_at = journal.read_text()
        proxy.released.set()
        resumed = await cli("restore", str(archive), env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed after" in resumed.stdout, (interrupted_at, resumed.stdout)
    assert "rows" in resumed.stderr  # the progress bar

    copy = tmp_path / "copy.tar"
    assert (await make_backup(source, copy, target_connection)).returncode == 0
    assert {t.name: (t.rows, t.sha256) for t in read_manifest(copy).tables} == {
        t.name: (t.rows, t.sha256) for t in manifest.tables
    }
    store = TableAuditStore.from_connection_string(target_connection, source["names"]["audit"])
    restored = AuditTrail(store, vault_keys(KEYS), instance="x", region="weu")
    verdict = await restored.verify(0, 10**9)
    await store.close()
    assert (verdict.intact, verdict.rows) == (True, 1200)


async def test_restoring_the_same_archive_again_changes_nothing(
    source: dict[str, Any], target: Child, tmp_path: Path
) -> None:
    archive = tmp_path / "again.tar"
    assert (await make_backup(source, archive)).returncode == 0
    env = {"MCPHUB_RESTORE_CONNECTION_STRING": azurite_connection_string(target.port)}
    first = await cli("restore", str(archive), env=env)
    journal_path(archive, env["MCPHUB_RESTORE_CONNECTION_STRING"]).unlink()  # a fresh run, not a resumed one
    second = await cli("restore", str(archive), env=env)
    assert first.returncode == second.returncode == 0
    copy = tmp_path / "copy.tar"
    assert (await make_backup(source, copy, env["MCPHUB_RESTORE_CONNECTION_STRING"])).returncode == 0
    assert [t.sha256 for t in read_manifest(copy).tables] == [t.sha256 for t in read_manifest(archive).tables]


async def test_a_damaged_archive_is_refused_before_anything_is_written(
    target: Child, tmp_path: Path, storage_connection_string: str
) -> None:
    first, second = f"d{uuid.uuid4().hex[:8]}", f"e{uuid.uuid4().hex[:8]}"
    for name in (first, second):
        async with TableClient.from_connection_string(storage_connection_string, name) as table:
            await table.create_table()
            for n in range(300):
                await table.create_entity({"PartitionKey": "p", "RowKey": f"{n:04d}", "Text": uuid.uuid4().hex * 4})
    archive = tmp_path / "damaged.tar"
    env = {"MCPHUB_BACKUP_CONNECTION_STRING": storage_connection_string}
    assert (await cli("backup", "--tables", f"{first},{second}", "--out", str(archive), env=env)).returncode == 0
    with tarfile.open(archive) as tar:
        member = tar.getmember(f"tables/{second}.jsonl.gz")
    data = bytearray(archive.read_bytes())
    data[member.offset_data + member.size // 2] ^= 0xFF  # inside the second table's compressed lines
    archive.write_bytes(bytes(data))
    target_connection = azurite_connection_string(target.port)
    refused = await cli("restore", str(archive), env={"MCPHUB_RESTORE_CONNECTION_STRING": target_connection})
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: ")
    assert await count_rows(target_connection, first) == 0  # not even the intact first table
    assert (await cli("verify", str(archive), env={})).returncode == 1
