"""How records sit in the audit table: blocks of records, each block MAC'd into its writer's chain.

A block is one Table row: `Records` (a JSON array), `Count`, `First`/`Last` times, and summary
columns (`Users`, `Servers`, ...: "|a|b|", or "*" when too many) that let a search skip blocks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

Record = dict[str, Any]
Entity = dict[str, Any]
_BLOCK_CHARS = 28_000  # a Table string property holds 32K UTF-16 code units
_BLOCK_RECORDS = 200
_SUMMARY_CHARS = 2_000
_HASHED = ("RowKey", "Seq", "Prev", "Kid", "PrevPartition", "First", "Last", "Count", "Records")
_SUMMARIES = {
    "event": "Events",
    "user": "Users",
    "tenant": "Tenants",
    "server": "Servers",
    "tool": "Tools",
    "outcome": "Outcomes",
}


def row_mac(key: bytes, partition: str, row: Mapping[str, Any]) -> str:
    content = {name: row.get(name) for name in _HASHED}
    if row.get("Headed"):  # blocks whose chain has a separately stored head (older ones do not)
        content["Headed"] = True
    content["Seq"] = int(content["Seq"] or 0)
    content["PrevPartition"] = content["PrevPartition"] or ""
    payload = json.dumps([partition, content], sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def into_blocks(records: list[Record]) -> list[Entity]:
    """Records in blocks of at most _BLOCK_RECORDS and _BLOCK_CHARS of JSON, in order."""
    blocks: list[Entity] = []
    current: list[Record] = []
    size = 0
    for record in records:
        encoded = len(json.dumps(record))
        if current and (size + encoded > _BLOCK_CHARS or len(current) >= _BLOCK_RECORDS):
            blocks.append(block(current))
            current, size = [], 0
        current.append(record)
        size += encoded + 1
    if current:
        blocks.append(block(current))
    return blocks


def block(records: list[Record]) -> Entity:
    block: Entity = {
        "Records": json.dumps(records, separators=(",", ":")),
        "Count": len(records),
        "First": records[0]["at"],
        "Last": records[-1]["at"],
    }
    for name, column in _SUMMARIES.items():
        values = "|" + "|".join(sorted({str(r[name]) for r in records if name in r})) + "|"
        block[column] = values if len(values) <= _SUMMARY_CHARS else "*"
    return block


def may_match(block: Entity, filters: Mapping[str, str]) -> bool:
    """False when a block's summary shows it holds no record the filters could match."""
    for name, value in filters.items():
        column = _SUMMARIES.get(name)
        summary = str(block.get(column) or "*") if column else "*"
        if summary != "*" and f"|{value}|" not in summary:
            return False
    return True
