"""The `stdioServers` entries of a Bicep parameters file, checked as the hub checks `MCPHUB_STDIO_*`
(shared/stdio.py): each problem names the file, the entry and its field, before `azd up` starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shared.settings import NAME_RE
from shared.stdio import StdioServer

_FIELDS = {"scaleToZero": "scale_to_zero"}
_CAMEL = {snake: camel for camel, snake in _FIELDS.items()}


def check(parameters: Path) -> list[str]:
    values: dict[str, Any] = {k: v.get("value") for k, v in json.loads(parameters.read_text())["parameters"].items()}
    entries: list[Any] = values.get("stdioServers") or []
    urls = {key.upper() for key in values.get("serverSettings") or {} if key.upper().endswith("__URL")}
    problems: list[str] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"{parameters.name}: stdioServers[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            problems.append(f"{where}: an entry is an object with a name")
            continue
        name = entry["name"]
        where += f" ({name})"
        if not NAME_RE.match(name):
            problems.append(f"{where}: name may use lower-case letters, digits, '-' and single '_' only")
            continue
        if name in seen:
            problems.append(f"{where}: a second entry with this name")
        seen.add(name)
        if f"MCPHUB_SERVER_{name.upper()}__URL" in urls:
            problems.append(
                f"{where}: serverSettings already has MCPHUB_SERVER_{name.upper()}__URL; rename one of them"
            )
        try:
            StdioServer.model_validate({_FIELDS.get(key, key): value for key, value in entry.items()})
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "package"
            reason = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
            problems.append(f"{where}: {_CAMEL.get(field, field)}: {reason.removeprefix('Value error, ')}")
    return problems
