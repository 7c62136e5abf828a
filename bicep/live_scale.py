"""Carry the capacity controller's live Flex settings into the next deployment (azd preprovision hook).

    python bicep/live_scale.py [--resource-group RG]

Who owns a region's always-ready and maximum instances:
- with `capacityMode` 'apply', the capacity controller (shared/forecast/scaling.py) owns them at run
  time. A deployment must not silently reset them to the Bicep parameters, so before every
  `azd provision`/`azd up` (azure.yaml's preprovision hook) this script reads what each Function App
  has now and sets `MCPHUB_LIVE_SCALE` in the azd environment ("<app>=<always ready>/<maximum>,...");
  bicep/main.bicep deploys those values instead of `alwaysReady`/`maximumInstances`;
- with 'dry-run' or 'off', the Bicep parameters own them (the live values are recorded and ignored).
A first deployment (no resource group or no apps yet) records nothing and Bicep's parameters apply.
If the script cannot run, the deployment resets the values and the controller sets them again at its
next tick after the cooldown: the guardrails still hold (the floors are parameters too).

Every call goes through the Azure CLI (`az`, signed in) and azd; standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any


def az(*args: str) -> Any:
    done = subprocess.run(["az", *args, "--output", "json"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"az {' '.join(args)} failed")
    return json.loads(done.stdout or "null")


def live_scale(resource_group: str) -> dict[str, tuple[int, int]]:
    """Each Flex Function App of the group: (always-ready of the http group, maximum instances)."""
    try:
        names: list[str] = az("functionapp", "list", "--resource-group", resource_group, "--query", "[].name")
    except RuntimeError as error:
        if "ResourceGroupNotFound" in str(error):
            return {}
        raise
    found: dict[str, tuple[int, int]] = {}
    for name in sorted(names or []):
        scale: dict[str, Any] = az("functionapp", "scale", "config", "show", "-g", resource_group, "-n", name) or {}
        if "maximumInstanceCount" not in scale:
            continue  # not on Flex Consumption
        ready = sum(int(g.get("instanceCount", 0)) for g in scale.get("alwaysReady") or [] if g.get("name") == "http")
        found[name] = (ready, int(scale["maximumInstanceCount"]))
    return found


def encode(scale: dict[str, tuple[int, int]]) -> str:
    return ",".join(f"{name}={ready}/{maximum}" for name, (ready, maximum) in sorted(scale.items()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bicep/live_scale.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--resource-group", default=os.environ.get("AZURE_RESOURCE_GROUP", ""))
    args = parser.parse_args(argv)
    if not args.resource_group:
        sys.stdout.write("live_scale: no AZURE_RESOURCE_GROUP: nothing deployed yet, Bicep's parameters apply\n")
        return 0
    try:
        value = encode(live_scale(args.resource_group))
    except RuntimeError as error:
        sys.stderr.write(f"live_scale: could not read the apps ({error}); Bicep's parameters apply\n")
        return 0
    subprocess.run(["azd", "env", "set", "MCPHUB_LIVE_SCALE", value], check=True)
    sys.stdout.write(f"live_scale: MCPHUB_LIVE_SCALE={value or '(none)'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
