"""The aiohttp transport behaves like httpx's own over real loopback sockets: bytes, streaming,
connection reuse, and failures raised as the httpx exceptions the upstream client handles."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from aiohttp import web

from infra.processes import free_port
from shared.mcp.jsonrpc import Request, Response
from shared.settings import ServerSettings
from shared.upstreams.aiohttp_transport import AiohttpTransport, stream_transport, upstream_transport
from shared.upstreams.client import HttpUpstreamClient

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def serve(handler: Handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/mcp", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/mcp"


async def raw_server(
    on_connect: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/mcp"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        yield http


async def test_method_headers_and_body_reach_the_server_and_the_answer_comes_back(client: httpx.AsyncClient) -> None:
    seen: dict[str, str] = {}

    async def handler(request: web.Request) -> web.Response:
        seen.update(method=request.method, session=request.headers["Mcp-Session-Id"], body=await request.text())
        return web.Response(status=201, body=b'{"ok":true}', headers={"Content-Type": "application/json", "X-A": "1"})

    runner, url = await serve(handler)
    try:
        response = await client.post(url, content=b'{"id":1}', headers={"Mcp-Session-Id": "s-1"})
    finally:
        await runner.cleanup()
    assert seen == {"method": "POST", "session": "s-1", "body": '{"id":1}'}
    assert (response.status_code, response.json(), response.headers["x-a"]) == (201, {"ok": True}, "1")


async def test_a_streamed_body_arrives_piece_by_piece_before_it_ends(client: httpx.AsyncClient) -> None:
    first_seen = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: one\n\n")
        await first_seen.wait()  # the second event is only sent once the client has the first
        await response.write(b"data: two\n\n")
        await response.write_eof()
        return response

    runner, url = await serve(handler)
    try:
        received: list[bytes] = []
        async with client.stream("GET", url) as response:
            async for chunk in response.aiter_bytes():
                received.append(chunk)
                first_seen.set()
    finally:
        await runner.cleanup()
    assert b"".join(received) == b"data: one\n\ndata: two\n\n"
    assert received[0] == b"data: one\n\n"


async def test_sequential_calls_reuse_one_connection(client: httpx.AsyncClient) -> None:
    peers: set[object] = set()

    async def handler(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        return web.Response(text="ok")

    runner, url = await serve(handler)
    try:
        for _ in range(3):
            assert (await client.get(url)).text == "ok"
    finally:
        await runner.cleanup()
    assert len(peers) == 1


async def test_a_refused_connection_is_a_connect_error(client: httpx.AsyncClient) -> None:
    with pytest.raises(httpx.ConnectError):
        await client.get(f"http://127.0.0.1:{free_port()}/mcp")


async def test_a_server_that_hangs_up_without_answering_is_a_remote_protocol_error(
    client: httpx.AsyncClient,
) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()
        await writer.wait_closed()

    server, url = await raw_server(hang_up)
    try:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(url)
    finally:
        server.close()
        await server.wait_closed()


async def test_a_server_that_never_answers_is_a_read_timeout(client: httpx.AsyncClient) -> None:
    never = asyncio.Event()

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await never.wait()
        writer.close()
        await writer.wait_closed()

    server, url = await raw_server(stall)
    try:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(url, timeout=httpx.Timeout(5.0, read=0.2))
    finally:
        never.set()
        server.close()
        await server.wait_closed()


async def test_the_shared_upstream_transport_never_keeps_or_replays_cookies() -> None:
    cookies: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        cookies.append(request.headers.get("Cookie"))
        return web.Response(text="ok", headers={"Set-Cookie": "user=alice; Path=/"})

    runner, url = await serve(handler)
    try:
        transport = upstream_transport()
        try:
            for _ in range(2):
                response = await transport.handle_async_request(httpx.Request("GET", url))
                await response.aread()
                await response.aclose()
        finally:
            await transport.aclose()
    finally:
        await runner.cleanup()
    assert cookies == [None, None]


def test_a_transport_closed_with_its_event_loop_serves_again_on_the_next_loop() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def one_call(transport: AiohttpTransport) -> str:
        runner, url = await serve(handler)
        try:
            return (await httpx.AsyncClient(transport=transport).get(url)).text
        finally:
            await transport.aclose()
            await runner.cleanup()

    transport = AiohttpTransport()
    assert asyncio.run(one_call(transport)) == "ok"
    assert asyncio.run(one_call(transport)) == "ok"


async def test_calls_are_answered_while_open_streams_outnumber_the_calls_pool() -> None:
    """Three upstream streams held open, a calls pool of two: the call still gets a connection
    (the streams have a pool of their own), as 250 IDE streams per instance needed in the load test."""
    held, release = asyncio.Event(), asyncio.Event()
    opened: list[int] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.method == "GET":
            stream = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await stream.prepare(request)
            opened.append(1)
            if len(opened) == 3:
                held.set()
            await release.wait()
            return stream
        return web.json_response({"jsonrpc": "2.0", "id": 1, "result": {"content": []}})

    runner, url = await serve(handler)
    server = ServerSettings.model_validate({"name": "up", "url": url, "timeout": 5})
    calls, streams = upstream_transport(max_connections=2), stream_transport()
    client = HttpUpstreamClient(calls, streams=streams)

    async def listen() -> None:
        async for _ in client.listen(server, session_id="s1", protocol_version="2025-11-25"):
            pass

    listeners = [asyncio.ensure_future(listen()) for _ in range(3)]
    try:
        async with asyncio.timeout(10):
            await held.wait()
            answer = [
                m
                async for m in client.send(
                    server, Request(1, "tools/call"), session_id="s1", protocol_version="2025-11-25"
                )
            ]
        assert answer == [Response(1, {"content": []})]
    finally:
        release.set()
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        await calls.aclose()
        await streams.aclose()
        await runner.cleanup()
