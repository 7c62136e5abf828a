"""`python -m shared.backup backup|restore|verify` (what `make backup` and `make restore` run).

    backup  [--out FILE] [--sessions] [--tables a,b]   source: MCPHUB_BACKUP_CONNECTION_STRING,
                                                        else MCPHUB_STORAGE_CONNECTION_STRING / AzureWebJobsStorage
    restore FILE [--tables a,b]                          target: MCPHUB_RESTORE_CONNECTION_STRING, else as above
    verify  FILE                                         checks every table against the manifest

Connection strings come from the environment, never the command line (which other users can read).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from shared.backup.archive import verify_archive
from shared.backup.transfer import account_of, backup, check_table_names, count_rows, default_name, restore
from shared.operations_settings import OperationsSettings
from shared.settings import HubSettings


class Bar:
    """A progress bar on stderr (one line per table and tenth when stderr is not a terminal)."""

    def __init__(self) -> None:
        self._tty = sys.stderr.isatty()
        self._last: tuple[str, int] = ("", -1)
        self._started = time.monotonic()

    def __call__(self, table: str, done: int, total: int) -> None:
        if total == 0 and done == 0:
            sys.stderr.write(f"{table}: not in the source, skipped\n")
            return
        share = done / total if total else 0.0
        tenth = int(share * 10) if total else -1
        text = f"{table:<24} [{'#' * int(share * 30):<30}] {done:>8}/{total or '?'} rows"
        if self._tty:
            sys.stderr.write("\r" + text + ("\n" if total and done >= total else ""))
        elif (table, tenth) != self._last:
            sys.stderr.write(text + "\n")
        self._last = (table, tenth)
        sys.stderr.flush()


def _connection(*names: str) -> str:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    raise SystemExit(f"set {' or '.join(names)} to the storage account's connection string")


def _tables(args: argparse.Namespace) -> list[str]:
    if args.tables:
        return check_table_names([t.strip() for t in args.tables.split(",") if t.strip()])
    hub, ops = HubSettings(), OperationsSettings()
    tables = [hub.grants_table, ops.audit_table, ops.usage_table, hub.health_table]
    return [*tables, hub.sessions_table] if getattr(args, "sessions", False) else tables


SOURCE = ("MCPHUB_BACKUP_CONNECTION_STRING", "MCPHUB_STORAGE_CONNECTION_STRING", "AzureWebJobsStorage")
TARGET = ("MCPHUB_RESTORE_CONNECTION_STRING", "MCPHUB_STORAGE_CONNECTION_STRING", "AzureWebJobsStorage")


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.backup", description=(__doc__ or "").split("\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    make = verbs.add_parser("backup", help="export the hub's tables to an archive")
    make.add_argument("--out", type=Path, help="archive file (default: backups/mcphub-backup-<time>.tar)")
    make.add_argument("--sessions", action="store_true", help="include live MCP sessions")
    make.add_argument("--tables", help="comma-separated table names instead of the hub's own")
    put = verbs.add_parser("restore", help="restore an archive into the target account")
    put.add_argument("archive", type=Path)
    put.add_argument("--tables", help="only these tables of the archive")
    check = verbs.add_parser("verify", help="check an archive's checksums")
    check.add_argument("archive", type=Path)
    args = parser.parse_args(argv)
    out = sys.stdout.write
    try:
        if args.verb == "backup":
            connection = _connection(*SOURCE)
            destination: Path = args.out or Path("backups") / default_name()
            destination.parent.mkdir(parents=True, exist_ok=True)
            manifest = await backup(connection, _tables(args), destination, Bar())
            out(f"backed up {sum(t.rows for t in manifest.tables)} rows of {len(manifest.tables)} table(s) ")
            out(f"from {manifest.source} to {destination}\n")
            for entry in manifest.tables:
                out(f"  {entry.name:<24} {entry.rows:>8} rows  sha256 {entry.sha256}\n")
        elif args.verb == "restore":
            connection = _connection(*TARGET)
            only = check_table_names(args.tables.split(",")) if args.tables else None
            figures = await restore(args.archive, connection, Bar(), tables=only)
            out(f"restored {args.archive} into {account_of(connection)}\n")
            for table, numbers in figures.items():
                present = await count_rows(connection, table)
                resumed = numbers["resumedAfterBatches"]
                note = f", resumed after {resumed} batch(es)" if resumed else ""
                if resumed and not numbers["written"]:
                    note = ", already restored by an earlier run (delete the journal to write it again)"
                out(f"  {table:<24} {numbers['rows']:>8} rows in archive, {present} in target{note}\n")
        else:
            manifest = verify_archive(args.archive)
            out(f"{args.archive}: intact, {len(manifest.tables)} table(s) from {manifest.source}\n")
    except ValueError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
