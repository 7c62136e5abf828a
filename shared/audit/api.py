"""The audit trail as the admin API shows it: query parameters in, records (JSON, CSV, JSONL) out."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.audit.trail import FILTERABLE, AuditTrail, Record, Verification

FILTERS = FILTERABLE
COLUMNS = ["at", "event", "user", "tenant", "server", "tool", "outcome", "latencyMs", "region", "detail", "id"]
MAX_PAGE = 1000
MAX_EXPORT = 1_000_000


class BadQuery(ValueError):
    """A query parameter the API cannot use; the message says which and how to fix it."""


@dataclass(frozen=True, slots=True)
class AuditQuery:
    first_hour: int
    last_hour: int
    start: float
    end: float
    filters: dict[str, str]
    after: tuple[str, str, int] | None
    limit: int

    @classmethod
    def parse(cls, params: Mapping[str, str], *, now: float, default_hours: int = 24) -> AuditQuery:
        end = _time(params.get("to"), "to") if params.get("to") else now
        start = _time(params.get("from"), "from") if params.get("from") else end - default_hours * 3600
        if start > end:
            raise BadQuery("'from' is after 'to'")
        unknown = set(params) - {*FILTERS, "from", "to", "limit", "cursor", "format"}
        if unknown:
            raise BadQuery(f"unknown parameter(s) {', '.join(sorted(unknown))}; use {', '.join(FILTERS)}, from, to")
        try:
            limit = int(params.get("limit", "100"))
        except ValueError:
            raise BadQuery("'limit' must be a whole number") from None
        if not 1 <= limit <= MAX_PAGE:
            raise BadQuery(f"'limit' must be between 1 and {MAX_PAGE}")
        filters = {k: v for k, v in params.items() if k in FILTERS and v}
        return cls(int(start // 3600), int(end // 3600), start, end, filters, _cursor(params.get("cursor")), limit)


def _time(value: str | None, name: str) -> float:
    assert value is not None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadQuery(f"'{name}' must be an ISO 8601 time such as 2026-11-25T08:00:00Z") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _cursor(value: str | None) -> tuple[str, str, int] | None:
    if not value:
        return None
    try:
        partition, row, index = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        return str(partition), str(row), int(index)
    except (ValueError, binascii.Error, TypeError):
        raise BadQuery("'cursor' is not one this API returned") from None


def _position(record: Record) -> tuple[str, str, int]:
    return str(record["PartitionKey"]), str(record["RowKey"]), int(record["index"])


def cursor_of(record: Record) -> str:
    raw = json.dumps(list(_position(record))).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def public(record: Record) -> dict[str, Any]:
    return {
        "at": datetime.fromtimestamp(float(record["at"]), UTC).isoformat().replace("+00:00", "Z"),
        **{name: record.get(name) for name in ("event", "user", "tenant", "server", "tool", "outcome")},
        "latencyMs": record.get("latencyMs"),
        "region": record.get("region"),
        "detail": record.get("detail") or {},
        "id": "/".join(str(part) for part in _position(record)),
    }


async def page(trail: AuditTrail, query: AuditQuery) -> dict[str, Any]:
    """One page: `items` and the `next` cursor (None on the last page)."""
    rows = await _rows(trail, query, query.after, query.limit)
    more = len(rows) == query.limit
    return {"items": [public(r) for r in rows], "next": cursor_of(rows[-1]) if rows and more else None}


async def _rows(trail: AuditTrail, query: AuditQuery, after: tuple[str, str, int] | None, limit: int) -> list[Record]:
    rows = await trail.search(query.first_hour, query.last_hour, query.filters, after=after, limit=limit)
    return [r for r in rows if query.start <= float(r["at"]) <= query.end]


async def export(trail: AuditTrail, query: AuditQuery, form: str) -> AsyncIterator[bytes]:
    """Every matching record, as CSV (with a header row) or JSON Lines, produced page by page."""
    after, sent = query.after, 0
    if form == "csv":
        yield _csv_line(COLUMNS)
    while sent < MAX_EXPORT:
        rows = await _rows(trail, query, after, MAX_PAGE)
        for row in rows:
            item = public(row)
            sent += 1
            if form == "csv":
                yield _csv_line([_cell(item[c]) for c in COLUMNS])
            else:
                yield (json.dumps(item, sort_keys=True) + "\n").encode()
        if len(rows) < MAX_PAGE:
            return
        after = _position(rows[-1])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)
    # A cell a spreadsheet would run as a formula is quoted with a leading apostrophe (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _csv_line(cells: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue().encode()


def verification(result: Verification) -> dict[str, Any]:
    return {
        "intact": result.intact,
        "partitions": result.partitions,
        "rows": result.rows,
        "findings": [{"partition": f.partition, "row": f.row, "problem": f.problem} for f in result.findings],
    }
