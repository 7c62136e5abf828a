"""`python -m infra.funchost`: serve function_app.py like `func start` would."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn

from infra.funchost.faults import FaultInjector
from infra.funchost.host import LocalFunctionsHost, describe, route_prefix


def load_local_settings(path: Path) -> None:
    """Copy `Values` from local.settings.json into the environment, as the real host does."""
    if not path.exists():
        return
    values = json.loads(path.read_text()).get("Values", {})
    for key, value in values.items():
        os.environ.setdefault(key, str(value))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--app", default="function_app:app", help="module:attribute of the FunctionApp")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--root", default=".", help="folder with host.json and local.settings.json")
    parser.add_argument("--no-timers", action="store_true", help="serve HTTP only")
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    load_local_settings(root / "local.settings.json")
    sys.path.insert(0, str(root))
    module_name, _, attribute = args.app.partition(":")
    app = getattr(importlib.import_module(module_name), attribute or "app")
    prefix = route_prefix(root / "host.json")
    host = LocalFunctionsHost(app, prefix=prefix, timers_enabled=not args.no_timers)
    for noisy in ("azure", "httpx"):  # per-request INFO lines from the SDKs drown the hub's own log
        logging.getLogger(noisy).setLevel(logging.WARNING)
    print(describe(host, f"http://{args.host}:{args.port}", prefix), flush=True)  # noqa: T201 - CLI output, like func start
    served: Any = host
    faults = os.environ.get("MCPHUB_LOCAL_FAULTS_FILE")
    if faults:  # the failover drill degrades this "region" on purpose
        served = FaultInjector(host, Path(faults), on_error=_record_injected_error)
    # proxy_headers=False: uvicorn would otherwise take the client address from X-Forwarded-For sent
    # from 127.0.0.1, which any local caller can forge; the Functions host does not do that either.
    uvicorn.run(served, host=args.host, port=args.port, log_level="warning", lifespan="on", proxy_headers=False)


def _record_injected_error(seconds: float) -> None:
    from functions._deps import hub  # the app under test, loaded by now

    current = hub()
    current.health.record("hub", seconds, "error")
    current.samples.maybe_flush()


if __name__ == "__main__":
    main()
