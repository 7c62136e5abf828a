"""The pass-through floor, as the team defines it: a copy of `../shared/bench/floor.py` (2026-12-05),
kept in the repository so that `make bench` measures it in the same run on a clean clone. Keep the
two in step; the text below is the original's.

The pass-through floor: the least a Python MCP gateway on the hub's own stack can cost.

A raw ASGI app on uvicorn (uvloop + httptools, as the hub's local host selects them) that forwards
each request's method, body and MCP headers to one upstream over one shared aiohttp session and
streams the answer back unparsed. No JSON, no sessions, no auth, no telemetry: whatever a real
gateway adds on top of this is its own cost; what this costs, any Python proxy on this stack pays.

usage: PYTHON floor.py --upstream http://127.0.0.1:18101/mcp --port 18105
(PYTHON: an interpreter with uvicorn, uvloop, httptools and aiohttp, e.g. the project's .venv.)
"""

from __future__ import annotations

import argparse

import aiohttp
import uvicorn

FORWARD = ("content-type", "accept", "mcp-session-id", "mcp-protocol-version", "last-event-id", "authorization")
BACK = ("content-type", "mcp-session-id", "mcp-protocol-version", "cache-control")


def app_for(upstream: str):
    session: aiohttp.ClientSession | None = None

    async def app(scope, receive, send):
        nonlocal session
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), auto_decompress=False)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if session is not None:
                        await session.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k.decode() in FORWARD}
        assert session is not None
        async with session.request(scope["method"], upstream, data=body or None, headers=headers) as r:
            out = [(k.encode(), v.encode()) for k, v in r.headers.items() if k.lower() in BACK]
            await send({"type": "http.response.start", "status": r.status, "headers": out})
            async for chunk in r.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

    return app


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--upstream", required=True)
    p.add_argument("--port", type=int, default=18105)
    a = p.parse_args()
    uvicorn.run(
        app_for(a.upstream),
        host="127.0.0.1",
        port=a.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="on",
    )


if __name__ == "__main__":
    main()
