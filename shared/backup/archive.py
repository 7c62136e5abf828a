"""The archive: `manifest.json` plus one gzipped JSON Lines file per table, in a tar.

Each line is one entity with every property typed (`[edm type, value]`), so Int64, Guid, Binary
and DateTime values come back as what they were. Lines are written in key order with fixed JSON
formatting, so the SHA-256 of a table's lines is the same for the same data in any account.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
import uuid
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from azure.data.tables import EdmType, EntityProperty

FORMAT = "mcphub-backup/1"
_INT32 = range(-(2**31), 2**31)


@dataclass
class TableEntry:
    name: str
    rows: int
    sha256: str
    file: str


@dataclass
class Manifest:
    format: str
    created: str
    source: str  # the account's table endpoint, never its key
    tables: list[TableEntry] = field(default_factory=list[TableEntry])

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        raw = json.loads(text)
        if raw.get("format") != FORMAT:
            raise ValueError(f"not an MCPHub backup (format {raw.get('format')!r}, expected {FORMAT!r})")
        tables = [TableEntry(**t) for t in raw["tables"]]
        return cls(raw["format"], raw["created"], raw["source"], tables)


def encode_entity(entity: Mapping[str, Any]) -> str:
    properties = {name: _encode(value) for name, value in entity.items() if name not in ("PartitionKey", "RowKey")}
    line = {"PartitionKey": entity["PartitionKey"], "RowKey": entity["RowKey"], "p": properties}
    return json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _encode(value: Any) -> list[Any]:
    if isinstance(value, EntityProperty):
        edm = value.edm_type.value if isinstance(value.edm_type, EdmType) else str(value.edm_type)
        return [edm, _encode(value.value)[1]]
    if isinstance(value, bool):
        return ["Edm.Boolean", value]
    if isinstance(value, int):
        return ["Edm.Int32" if value in _INT32 else "Edm.Int64", value]
    if isinstance(value, float):
        return ["Edm.Double", value]
    if isinstance(value, datetime):
        return ["Edm.DateTime", value.isoformat()]
    if isinstance(value, bytes):
        return ["Edm.Binary", base64.b64encode(value).decode()]
    if isinstance(value, uuid.UUID):
        return ["Edm.Guid", str(value)]
    return ["Edm.String", str(value)]


def decode_entity(line: str) -> dict[str, Any]:
    raw = json.loads(line)
    entity: dict[str, Any] = {"PartitionKey": raw["PartitionKey"], "RowKey": raw["RowKey"]}
    for name, (edm, value) in raw["p"].items():
        entity[name] = _decode(edm, value)
    return entity


def _decode(edm: str, value: Any) -> Any:
    if edm == "Edm.Int64":
        return EntityProperty(int(value), EdmType.INT64)
    if edm == "Edm.DateTime":
        return EntityProperty(datetime.fromisoformat(value), EdmType.DATETIME)
    if edm == "Edm.Binary":
        return base64.b64decode(value)
    if edm == "Edm.Guid":
        return EntityProperty(uuid.UUID(value), EdmType.GUID)
    return value


class TableWriter:
    """Lines of one table into a gzip file, hashing as it goes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = gzip.GzipFile(path, "wb", compresslevel=6)
        self._hash = hashlib.sha256()
        self.rows = 0

    def write(self, line: str) -> None:
        data = line.encode() + b"\n"
        self._file.write(data)
        self._hash.update(data)
        self.rows += 1

    def close(self) -> str:
        self._file.close()
        return self._hash.hexdigest()


def write_archive(destination: Path, manifest: Manifest, files: Mapping[str, Path]) -> None:
    partial = destination.with_name(destination.name + ".partial")
    with tarfile.open(partial, "w") as tar:
        data = manifest.to_json().encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for name, path in files.items():
            tar.add(path, arcname=name)
    partial.replace(destination)  # an interrupted backup never leaves a file that looks complete


def read_manifest(archive: Path) -> Manifest:
    try:
        with tarfile.open(archive, "r") as tar:
            member = tar.extractfile("manifest.json")
            if member is None:
                raise ValueError(f"{archive} has no manifest.json")
            return Manifest.from_json(member.read().decode())
    except (OSError, KeyError, tarfile.TarError, UnicodeDecodeError) as exc:
        raise ValueError(f"{archive} is not a readable backup: {exc}") from None


def table_lines(archive: Path, entry: TableEntry) -> Iterator[str]:
    """The lines of one table; raises ValueError when they do not match the manifest's checksum."""
    damaged = f"table {entry.name!r} in {archive.name} is damaged"
    try:
        with tarfile.open(archive, "r") as tar:
            member = tar.extractfile(entry.file)
            if member is None:
                raise ValueError(f"{archive} lacks {entry.file}")
            with gzip.open(member, "rb") as lines:
                digest, count = hashlib.sha256(), 0
                for raw in lines:
                    digest.update(raw)
                    count += 1
                    yield raw.decode().rstrip("\n")
    except (OSError, EOFError, zlib.error, tarfile.TarError, UnicodeDecodeError) as exc:
        raise ValueError(f"{damaged}: {exc}") from None
    if digest.hexdigest() != entry.sha256 or count != entry.rows:
        raise ValueError(f"{damaged}: its checksum or row count differs from the manifest")


def verify_archive(archive: Path) -> Manifest:
    """Read every table once and check it against the manifest (before anything is restored)."""
    manifest = read_manifest(archive)
    for entry in manifest.tables:
        for _ in table_lines(archive, entry):
            pass
    return manifest
