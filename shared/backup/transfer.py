"""Copying tables out of an account into an archive, and from an archive into an account.

Restore writes each batch (≤ 100 rows of one partition) as one transaction of upserts, so running
it again changes nothing, and records finished batches in a journal beside the archive: after an
interruption, the next run continues where the last one stopped.
"""

from __future__ import annotations

# The Azure SDK types its **kwargs loosely; strict mode would flag every call for it.
# pyright: reportUnknownMemberType=false, reportUnknownArgumentType=false, reportUnknownVariableType=false
import contextlib
import hashlib
import json
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableServiceClient

from shared.backup.archive import (
    FORMAT,
    Manifest,
    TableEntry,
    TableWriter,
    decode_entity,
    encode_entity,
    table_lines,
    verify_archive,
    write_archive,
)

Progress = Callable[[str, int, int], None]  # table, done, total
_BATCH_ROWS = 100
_BATCH_BYTES = 3_000_000  # under the 4 MB a transaction may carry


def account_of(connection: str) -> str:
    """Where a connection string points (its table endpoint or account name), without its key."""
    parts = dict(p.split("=", 1) for p in connection.split(";") if "=" in p)
    if "TableEndpoint" in parts:
        return parts["TableEndpoint"].rstrip("/")
    if connection.startswith("UseDevelopmentStorage"):
        return "devstoreaccount1"
    return f"{parts.get('AccountName', '?')}.table.{parts.get('EndpointSuffix', 'core.windows.net')}"


async def backup(connection: str, tables: list[str], destination: Path, progress: Progress) -> Manifest:
    manifest = Manifest(FORMAT, datetime.now(UTC).isoformat(), account_of(connection))
    async with TableServiceClient.from_connection_string(connection) as service:
        existing = {t.name async for t in service.list_tables()}
        with tempfile.TemporaryDirectory() as scratch:
            files: dict[str, Path] = {}
            for name in tables:
                if name not in existing:
                    progress(name, 0, 0)
                    continue
                path = Path(scratch) / f"{name}.jsonl.gz"
                writer = TableWriter(path)
                async for entity in service.get_table_client(name).list_entities():
                    writer.write(encode_entity(entity))
                    if writer.rows % 500 == 0:
                        progress(name, writer.rows, 0)
                digest = writer.close()
                progress(name, writer.rows, writer.rows)
                arcname = f"tables/{name}.jsonl.gz"
                manifest.tables.append(TableEntry(name, writer.rows, digest, arcname))
                files[arcname] = path
            write_archive(destination, manifest, files)
    return manifest


def _batches(lines: Iterator[str]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    size = 0
    for line in lines:
        entity = decode_entity(line)
        if batch and (
            entity["PartitionKey"] != batch[0]["PartitionKey"]
            or len(batch) >= _BATCH_ROWS
            or size + len(line) > _BATCH_BYTES
        ):
            yield batch
            batch, size = [], 0
        batch.append(entity)
        size += len(line)
    if batch:
        yield batch


class Journal:
    """Which batches of which tables are in the target already (a JSON file, replaced atomically)."""

    def __init__(self, path: Path, archive_sha: str, target: str) -> None:
        self.path = path
        self._key = {"archive": archive_sha, "target": target}
        self.done: dict[str, int] = {}
        if path.exists():
            saved = json.loads(path.read_text())
            if {k: saved.get(k) for k in self._key} == self._key:
                self.done = {str(k): int(v) for k, v in saved.get("done", {}).items()}

    def record(self, table: str, batches: int) -> None:
        self.done[table] = batches
        partial = self.path.with_name(self.path.name + ".tmp")
        partial.write_text(json.dumps({**self._key, "done": self.done}))
        partial.replace(self.path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def journal_path(archive: Path, connection: str) -> Path:
    target = hashlib.sha256(account_of(connection).encode()).hexdigest()[:12]
    return archive.with_name(f"{archive.name}.restore-{target}.json")


async def restore(
    archive: Path, connection: str, progress: Progress, *, tables: list[str] | None = None
) -> dict[str, dict[str, int]]:
    """Restore `archive` (all its tables, or `tables`) into the account; returns per-table figures."""
    manifest = verify_archive(archive)  # a damaged archive is refused before anything is written
    archive_sha = file_sha256(archive)
    journal = Journal(journal_path(archive, connection), archive_sha, account_of(connection))
    figures: dict[str, dict[str, int]] = {}
    async with TableServiceClient.from_connection_string(connection) as service:
        for entry in manifest.tables:
            if tables is not None and entry.name not in tables:
                continue
            figures[entry.name] = await _restore_table(service, archive, entry, journal, progress)
    return figures


async def _restore_table(
    service: TableServiceClient, archive: Path, entry: TableEntry, journal: Journal, progress: Progress
) -> dict[str, int]:
    with contextlib.suppress(ResourceExistsError):
        await service.create_table(entry.name)
    client = service.get_table_client(entry.name)
    skip = journal.done.get(entry.name, 0)
    rows = written = 0
    for index, batch in enumerate(_batches(table_lines(archive, entry))):
        rows += len(batch)
        if index < skip:
            continue
        await client.submit_transaction([("upsert", e, {"mode": UpdateMode.REPLACE}) for e in batch])
        written += len(batch)
        journal.record(entry.name, index + 1)
        progress(entry.name, rows, entry.rows)
    progress(entry.name, rows, entry.rows)
    return {"rows": rows, "written": written, "resumedAfterBatches": skip}


async def count_rows(connection: str, table: str) -> int:
    async with TableServiceClient.from_connection_string(connection) as service:
        try:
            entities = service.get_table_client(table).list_entities(select=["PartitionKey"])
            return sum([1 async for _ in entities])
        except ResourceNotFoundError:
            return 0


def default_name(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"mcphub-backup-{stamp}.tar"


_SAFE = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")


def check_table_names(names: list[str]) -> list[str]:
    bad = [n for n in names if not _SAFE.match(n)]
    if bad:
        raise ValueError(f"not a table name: {', '.join(bad)}")
    return names
