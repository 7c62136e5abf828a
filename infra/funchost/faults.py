"""Fault injection for the local host (the failover drill): latency and errors on MCP requests,
and a failing /health, as a "region" degrades. Local only: Azure never loads this.

The faults file is JSON, re-read when it changes:
    {"latency_ms": 200, "error_rate": 0.3, "health_down": false}
Injected errors are recorded in the hub's health samples like real ones, so the routing
controller sees what the region's users see.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class FaultInjector:
    def __init__(self, app: ASGIApp, path: Path, *, on_error: Callable[[float], None] | None = None) -> None:
        self._app = app
        self._path = path
        self._on_error = on_error
        self._loaded: tuple[float, dict[str, Any]] = (-1.0, {})

    def _faults(self) -> dict[str, Any]:
        try:
            mtime = self._path.stat().st_mtime
        except FileNotFoundError:
            return {}
        if mtime != self._loaded[0]:
            try:
                self._loaded = (mtime, json.loads(self._path.read_text() or "{}"))
            except ValueError:
                return self._loaded[1]  # mid-write: keep the last good version
        return self._loaded[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        faults = self._faults()
        path = str(scope["path"])
        if path == "/health" and faults.get("health_down"):
            await JSONResponse({"status": "unhealthy", "injected": True}, status_code=503)(scope, receive, send)
            return
        if path.startswith("/mcp"):
            started = time.perf_counter()
            if faults.get("latency_ms"):
                await asyncio.sleep(float(faults["latency_ms"]) / 1000)
            if random.random() < float(faults.get("error_rate", 0.0)):
                if self._on_error is not None:
                    self._on_error(time.perf_counter() - started)
                body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32603, "message": "injected fault"}}
                await JSONResponse(body, status_code=503)(scope, receive, send)
                return
        await self._app(scope, receive, send)
