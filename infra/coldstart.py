"""`make coldstart`: what a fresh worker process pays before its first answer.

Each round starts a new Python process (`infra/cold_process.py`) that imports `function_app` (as the Functions Python
worker does when it indexes the app), then serves its first MCP requests in process through the
local host: `initialize` on `/mcp` (the hub's composition root runs here: settings, Table clients,
HTTP clients) and the first `tools/call` (the first upstream session). The upstream and Azurite
run beside it. Reports each step's median over the rounds, and which heavy modules were loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from infra.processes import AUTH_OFF, ROOT, Processes, azurite_connection_string

BUDGET_SECONDS = 1.2
HEAVY = ("sklearn", "scipy", "numpy", "azure.monitor.opentelemetry", "msal", "playwright")


def one_round(env: dict[str, str]) -> dict[str, Any]:
    spawned = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "infra.cold_process", *HEAVY],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the cold process failed:\n{done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    interpreter = figures.pop("started") - spawned
    return {"interpreter": interpreter, **figures}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    processes = Processes(ROOT / ".local" / "logs" / "coldstart")
    try:
        azurite = processes.azurite()
        notes = processes.demo("notes")
        env = {
            "AzureWebJobsStorage": azurite_connection_string(azurite.port),
            "MCPHUB_SERVER_NOTES__URL": f"{notes.url}/mcp",
            **AUTH_OFF,
        }
        rounds = [one_round(env) for _ in range(args.rounds)]
    finally:
        processes.stop_all()
    steps = ("interpreter", "import", "first_request", "first_call")
    medians = {step: statistics.median(float(r[step]) for r in rounds) for step in steps}
    medians["import_and_first_request"] = medians["import"] + medians["first_request"]
    heavy = sorted({str(m) for r in rounds for m in r["heavy"]})
    lines = [f"median of {args.rounds} fresh processes"]
    lines += [f"  {step:<26} {medians[step] * 1000:8.0f} ms" for step in (*steps, "import_and_first_request")]
    verdict = "within" if medians["import_and_first_request"] <= BUDGET_SECONDS else "OVER"
    lines.append(f"import + first request {verdict} the {BUDGET_SECONDS:g} s budget")
    lines.append(f"heavy modules loaded by then: {', '.join(heavy) or 'none'}")
    sys.stdout.write("\n".join(lines) + "\n")
    return medians


if __name__ == "__main__":
    main()
