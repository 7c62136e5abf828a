"""One cold worker, for `infra/coldstart.py`: import `function_app`, serve the first requests in
process, print the timings as JSON. Arguments: module names to report as loaded or not."""

import time

started = time.time()
t0 = time.perf_counter()
import function_app  # noqa: E402 - timing this import is the point

t1 = time.perf_counter()

import asyncio  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

import httpx  # noqa: E402

from infra.funchost.host import LocalFunctionsHost  # noqa: E402

HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


async def first_requests() -> tuple[float, float]:
    host = LocalFunctionsHost(function_app.app, timers_enabled=False)
    headers = dict(HEADERS)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host), base_url="http://hub") as http:
        a = time.perf_counter()
        init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "cold", "version": "1"}}
        body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init}
        reply = await http.post("/mcp", json=body, headers=headers)
        if reply.status_code != 200:
            raise RuntimeError(f"initialize: {reply.status_code} {reply.text}")
        b = time.perf_counter()
        headers |= {"Mcp-Session-Id": reply.headers["mcp-session-id"], "MCP-Protocol-Version": "2025-11-25"}
        call = {"name": "notes__echo", "arguments": {"text": "hi"}}
        reply = await http.post(
            "/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call}, headers=headers
        )
        if reply.status_code != 200 or "hi" not in reply.text:
            raise RuntimeError(f"tools/call: {reply.status_code} {reply.text}")
        c = time.perf_counter()
    return b - a, c - b


first_request, first_call = asyncio.run(first_requests())
figures = {
    "started": started,
    "import": t1 - t0,
    "first_request": first_request,
    "first_call": first_call,
    "heavy": [name for name in sys.argv[1:] if name in sys.modules],
}
sys.stdout.write(json.dumps(figures) + "\n")
