"""Refresh `schemas/bicep-types.json` from a checkout of Azure/bicep-types-az (run by hand, not by tests).

    python -m infra.preflight.vendor_bicep_types <bicep-types-az checkout>

For each `type@apiVersion` the Bicep in bicep/ declares, it copies from `generated/**/types.json`
the resource's body type and every type reachable from it, reduced to what the preflight needs
(object properties with their flags, array items, unions, discriminated objects). Data, MIT
licensed (schemas/LICENSE-bicep-types-az).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra.processes import ROOT

OUT = Path(__file__).parent / "schemas" / "bicep-types.json"
DECLARED = re.compile(r"^resource \w+ '([^']+)'", re.MULTILINE)


def declared() -> set[str]:
    return {m for path in (ROOT / "bicep").rglob("*.bicep") for m in DECLARED.findall(path.read_text())}


def reduce(types: list[dict[str, Any]], root: int) -> dict[str, Any]:
    nodes: dict[str, Any] = {}
    pending = [root]

    def ref(value: dict[str, Any]) -> int:
        index = int(value["$ref"].removeprefix("#/"))
        pending.append(index)
        return index

    while pending:
        index = pending.pop()
        if str(index) in nodes:
            continue
        node = types[index]
        kind = node["$type"]
        if kind == "ObjectType":
            properties = {k: [ref(v["type"]), v.get("flags", 0)] for k, v in node.get("properties", {}).items()}
            extra = node.get("additionalProperties")
            nodes[str(index)] = {"object": properties, "additional": ref(extra) if extra else None}
        elif kind == "ArrayType":
            nodes[str(index)] = {"array": ref(node["itemType"])}
        elif kind == "UnionType":
            nodes[str(index)] = {"union": [ref(e) for e in node["elements"]]}
        elif kind == "DiscriminatedObjectType":
            base = {k: [ref(v["type"]), v.get("flags", 0)] for k, v in node.get("baseProperties", {}).items()}
            elements = {k: ref(v) for k, v in node["elements"].items()}
            nodes[str(index)] = {"discriminated": node["discriminator"], "base": base, "elements": elements}
        else:
            nodes[str(index)] = {"scalar": kind}
    return {"root": root, "nodes": nodes}


def main(checkout: str) -> int:
    repo = Path(checkout)
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    listing = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", "-r", "--name-only", "HEAD", "generated/"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    wanted = declared()
    found: dict[str, Any] = {}
    for name in sorted(wanted):
        kind, version = name.split("@")
        namespace = kind.split("/")[0].lower()
        for path in (p for p in listing if p.endswith(f"/{namespace}/{version}/types.json")):
            shown = subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{path}"], capture_output=True, check=True)
            types: list[dict[str, Any]] = json.loads(shown.stdout)
            resource = next(
                (t for t in types if t["$type"] == "ResourceType" and t["name"].lower() == name.lower()), None
            )
            if resource is not None:
                found[name] = {"file": path, **reduce(types, int(resource["body"]["$ref"].removeprefix("#/")))}
                break
    missing = sorted(wanted - set(found))
    OUT.write_text(json.dumps({"source": f"Azure/bicep-types-az@{commit.stdout.strip()}", "resources": found}))
    print(f"{len(found)} resource types written to {OUT}; not found: {missing or 'none'}")  # noqa: T201 - report
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
