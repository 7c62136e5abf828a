"""The ASGI application that stands in for the Functions host (see the package docstring)."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func
from fastapi import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from infra.funchost.ncrontab import Schedule
from infra.funchost.routes import RouteTemplate, ambiguities

log = logging.getLogger("funchost")


@dataclass(frozen=True)
class HttpFunction:
    name: str
    route: RouteTemplate
    methods: frozenset[str] | None  # None = every method
    handler: Callable[..., Any]
    arg_name: str


@dataclass(frozen=True)
class TimerFunction:
    name: str
    schedule: Schedule
    expression: str
    run_on_startup: bool
    handler: Callable[..., Any]
    arg_name: str


def route_prefix(host_json: Path) -> str:
    """`extensions.http.routePrefix` from host.json; the real host's default is "api"."""
    if not host_json.exists():
        return "api"
    config = json.loads(host_json.read_text())
    return str(config.get("extensions", {}).get("http", {}).get("routePrefix", "api"))


def discover(app: func.FunctionApp, prefix: str) -> tuple[list[HttpFunction], list[TimerFunction]]:
    http: list[HttpFunction] = []
    timers: list[TimerFunction] = []
    for function in app.get_functions():
        trigger = function.get_trigger()
        if trigger is None:
            continue
        spec = trigger.get_dict_repr()
        handler = function.get_user_function()
        name = str(function.get_function_name())
        if spec["type"] == "httpTrigger":
            methods = spec.get("methods")
            allowed = frozenset(str(getattr(m, "value", m)).upper() for m in methods) if methods else None
            template = str(spec.get("route") or name)
            http.append(HttpFunction(name, RouteTemplate.compile(prefix, template), allowed, handler, spec["name"]))
        elif spec["type"] == "timerTrigger":
            expression = str(spec["schedule"])
            if expression.startswith("%") and expression.endswith("%"):
                # Like the real host: %NAME% takes the schedule from the app setting NAME.
                expression = os.environ[expression.strip("%")]
            timers.append(
                TimerFunction(
                    name, Schedule.parse(expression), expression, bool(spec.get("runOnStartup")), handler, spec["name"]
                )
            )
        else:
            log.warning("function %s has a %s trigger, which this local host does not run", name, spec["type"])
    clashes = ambiguities([(f.name, f.route.template, f.methods) for f in http])
    if clashes:
        # The real host orders its route table by function name, and that order has changed between
        # host versions: which function answers must not depend on it, here or there.
        raise AmbiguousRoutes("routes that one request could reach either way: " + "; ".join(clashes))
    return http, timers


class AmbiguousRoutes(ValueError):
    """Two HTTP functions' routes match one request: the host's ordering would decide which runs."""


async def _call(handler: Callable[..., Any], **kwargs: Any) -> Any:
    if inspect.iscoroutinefunction(handler):
        return await handler(**kwargs)
    return await asyncio.to_thread(handler, **kwargs)


def _to_response(result: Any) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, func.HttpResponse):
        return Response(result.get_body(), status_code=result.status_code, headers=dict(result.headers))
    if isinstance(result, dict | list):
        return JSONResponse(result)
    if result is None:
        return Response(status_code=204)
    return PlainTextResponse(str(result))


class LocalFunctionsHost:
    """ASGI app: routes HTTP to the app's functions and runs its timers while it is up."""

    def __init__(self, app: func.FunctionApp, *, prefix: str = "", timers_enabled: bool = True) -> None:
        self.http, self.timers = discover(app, prefix)
        self._timers_enabled = timers_enabled
        self._tasks: list[asyncio.Task[None]] = []
        self.timer_runs: dict[str, int] = {t.name: 0 for t in self.timers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"].upper()
        for function in self.http:
            params = function.route.match(path)
            if params is None or (function.methods is not None and method not in function.methods):
                continue
            scope["path_params"] = params
            request = Request(scope, receive)
            try:
                response = _to_response(await _call(function.handler, **{function.arg_name: request}))
            except Exception:
                log.exception("function %s failed", function.name)
                response = Response(status_code=500)
            await response(scope, receive, send)
            return
        await Response(status_code=404)(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self._timers_enabled:
                    self._tasks = [asyncio.create_task(self._run_timer(t)) for t in self.timers]
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in self._tasks:
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def fire(self, timer: TimerFunction, *, past_due: bool = False) -> None:
        try:
            await _call(timer.handler, **{timer.arg_name: func.TimerRequest(past_due=past_due)})
        except Exception:
            log.exception("timer %s failed", timer.name)
        finally:
            self.timer_runs[timer.name] += 1

    async def _run_timer(self, timer: TimerFunction) -> None:
        if timer.run_on_startup:
            await self.fire(timer)
        while True:
            now = dt.datetime.now(dt.UTC)
            due = timer.schedule.next_after(now.replace(tzinfo=None))
            await asyncio.sleep((due - now.replace(tzinfo=None)).total_seconds())
            await self.fire(timer)


def describe(host: LocalFunctionsHost, base_url: str, prefix: str) -> str:
    """The function list `func start` prints, so people know what is served where."""
    lines = ["Functions:"]
    for function in host.http:
        methods = ",".join(sorted(function.methods)) if function.methods else "ALL"
        path = "/".join(part for part in (prefix.strip("/"), function.route.template.strip("/")) if part)
        lines.append(f"  {function.name}: [{methods}] {base_url}/{path}")
    lines.extend(f"  {timer.name}: timerTrigger ({timer.expression})" for timer in host.timers)
    return "\n".join(lines)
