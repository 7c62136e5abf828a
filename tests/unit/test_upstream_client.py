"""HttpUpstreamClient against recorded-style upstream answers, through httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

import httpx
import pytest

from shared.errors import (
    HubBusy,
    UpstreamProtocolError,
    UpstreamRefused,
    UpstreamSessionExpired,
    UpstreamTimeout,
    UpstreamUnauthorized,
    UpstreamUnavailable,
)
from shared.mcp.jsonrpc import Message, Notification, Request, Response
from shared.settings import ServerSettings
from shared.upstreams.breaker import CircuitBreaker
from shared.upstreams.client import Exchange, HttpUpstreamClient

pytestmark = pytest.mark.anyio
SERVER = ServerSettings.model_validate(
    {"name": "up", "url": "http://upstream.test/mcp", "headers": {"X_API_KEY": "k"}, "timeout": 2}
)


def client_for(handler: Callable[[httpx.Request], httpx.Response], **kwargs: object) -> HttpUpstreamClient:
    return HttpUpstreamClient(httpx.MockTransport(handler), **kwargs)  # type: ignore[arg-type] - test keyword overrides forwarded as they are


async def collect(client: HttpUpstreamClient, message: Message, session_id: str | None = "s1") -> list[Message]:
    return [m async for m in client.send(SERVER, message, session_id=session_id, protocol_version="2025-11-25")]


async def test_json_answer_is_yielded_and_headers_are_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": {"tools": []}})

    assert await collect(client_for(handler), Request(1, "tools/list")) == [Response(1, {"tools": []})]
    assert seen[0].headers["x-api-key"] == "k"
    assert seen[0].headers["mcp-session-id"] == "s1"
    assert seen[0].headers["mcp-protocol-version"] == "2025-11-25"


async def test_sse_answer_yields_notifications_then_the_response() -> None:
    body = (
        'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}\n\n'
        'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{"content":[]}}\n\n'
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body.encode(), headers={"content-type": "text/event-stream"})

    messages = await collect(client_for(handler), Request(1, "tools/call"))
    assert messages == [Notification("notifications/progress", {"progress": 1}), Response(1, {"content": []})]


async def test_html_instead_of_mcp_is_a_protocol_error_naming_the_server() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>login</html>", headers={"content-type": "text/html"})

    with pytest.raises(UpstreamProtocolError, match="'up'"):
        await collect(client_for(handler), Request(1, "tools/call"))


async def test_garbage_json_is_a_protocol_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"{not json", headers={"content-type": "application/json"})

    with pytest.raises(UpstreamProtocolError):
        await collect(client_for(handler), Request(1, "tools/call"))


@pytest.mark.parametrize("status", [200, 400])
async def test_json_that_is_not_a_message_we_accept_is_the_upstreams_error_not_the_clients(status: int) -> None:
    # An error answer with "id": null (what some servers send to a request they cannot place) is
    # valid JSON but no JSON-RPC message the hub accepts: it must not leave as the client's -32600.
    answer = {"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": "Bad Request"}}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=answer)

    with pytest.raises(UpstreamUnavailable if status >= 400 else UpstreamProtocolError, match="'up'"):
        await collect(client_for(handler), Request(1, "tools/call"))


@pytest.mark.parametrize("extra", [{"Mcp-Param-Region": "eu"}, {}])
async def test_extra_headers_go_with_the_request(extra: dict[str, str]) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": {}})

    sent = client_for(handler).send(
        SERVER, Request(1, "tools/call"), session_id=None, protocol_version=None, headers=extra
    )
    assert [m async for m in sent] == [Response(1, {})]
    assert seen[0].headers.get("mcp-param-region") == extra.get("Mcp-Param-Region")


async def test_server_error_on_idempotent_request_is_retried_once() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return httpx.Response(503)
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": {"tools": []}})

    assert await collect(client_for(handler), Request(1, "tools/list")) == [Response(1, {"tools": []})]
    assert calls == 2


async def test_server_error_on_tool_call_is_not_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(502)

    with pytest.raises(UpstreamUnavailable, match="HTTP 502"):
        await collect(client_for(handler), Request(1, "tools/call"))
    assert calls == 1


async def test_refused_connection_is_retried_even_for_tool_calls() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": {}})

    assert await collect(client_for(handler), Request(1, "tools/call")) == [Response(1, {})]


async def test_timeout_names_the_setting_to_change() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(UpstreamTimeout, match="MCPHUB_SERVER_UP__TIMEOUT"):
        await collect(client_for(handler), Request(1, "tools/call"))


async def test_404_on_our_session_asks_for_a_new_one() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404)

    with pytest.raises(UpstreamSessionExpired):
        await collect(client_for(handler), Request(1, "tools/list"))


async def test_posted_notification_accepted_with_202_yields_nothing() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content) == {"jsonrpc": "2.0", "method": "notifications/initialized"}
        return httpx.Response(202)

    assert await collect(client_for(handler), Notification("notifications/initialized")) == []


async def test_repeated_failures_open_the_breaker_and_stop_calls() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(500)

    breaker = CircuitBreaker(failures=2, reset_seconds=60, clock=lambda: 0.0)
    client = client_for(handler, breakers={"up": breaker})
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            await collect(client, Request(1, "tools/call"))
    with pytest.raises(UpstreamUnavailable, match="stopped calling"):
        await collect(client, Request(1, "tools/call"))
    assert calls == 2


async def test_an_answer_read_only_up_to_its_response_closes_a_probing_breaker() -> None:
    """Callers stop reading at the Response (closing the stream): the upstream answered all the same.
    Before, the success was recorded only after the stream ran out, so a half-open probe whose
    caller stopped early left the breaker probing, refusing every later call for good."""
    now = [0.0]
    failing = [True]

    def handler(request: httpx.Request) -> httpx.Response:
        if failing[0]:
            return httpx.Response(500)
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": {"content": []}})

    breaker = CircuitBreaker(failures=1, reset_seconds=5, clock=lambda: now[0])
    client = client_for(handler, breakers={"up": breaker})
    with pytest.raises(UpstreamUnavailable):
        await collect(client, Request(1, "tools/call"))
    now[0], failing[0] = 10.0, False
    for _ in range(3):
        stream = client.send(SERVER, Request(1, "tools/call"), session_id="s1", protocol_version="2025-11-25")
        assert isinstance(await anext(stream), Response)
        await stream.aclose()
    assert breaker.state == "closed"


async def test_passthrough_forwards_mcp_headers_but_never_the_clients_credentials() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, content=b'{"jsonrpc":"2.0","id":1,"result":{}}', headers={"content-type": "application/json"}
        )

    incoming = {
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": "echo",
        "mcp-param-region": "eu",
        "authorization": "Bearer client-token",
        "cookie": "session=1",
    }
    reply = await client_for(handler).passthrough(SERVER, incoming, b"{}")
    body = b"".join([chunk async for chunk in reply.body])
    assert (reply.status, body) == (200, b'{"jsonrpc":"2.0","id":1,"result":{}}')
    sent = seen[0].headers
    assert "authorization" not in sent
    assert "cookie" not in sent
    assert (sent["mcp-name"], sent["mcp-param-region"], sent["x-api-key"]) == ("echo", "eu", "k")


async def test_a_4xx_without_an_answer_is_a_refusal_that_never_opens_the_breaker() -> None:
    """A 400 is the upstream up and answering: counted as a failure, any caller's bad requests
    (or a handshake to a server of 2026-07-28 only) would stop every user's calls."""
    breaker = CircuitBreaker(failures=2, reset_seconds=60, clock=lambda: 0.0)
    client = client_for(lambda request: httpx.Response(400, text="no"), breakers={"up": breaker})
    for _ in range(5):
        with pytest.raises(UpstreamRefused, match="HTTP 400"):
            await collect(client, Request(1, "initialize"))
    assert breaker.state == "closed"


def sse(*events: tuple[str, Mapping[str, object]]) -> bytes:
    return b"".join(f"id: {event}\ndata: {json.dumps(message)}\n\n".encode() for event, message in events)


ASK = {"jsonrpc": "2.0", "id": "q1", "method": "roots/list"}
NOTE = {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": 1}}
DONE = {"jsonrpc": "2.0", "id": 7, "result": {"content": []}}


async def resumed(client: HttpUpstreamClient, exchange: Exchange | None = None) -> list[Message]:
    stream = client.resume(
        SERVER, session_id="s1", protocol_version="2025-11-25", last_event_id="e1", answer_id=7, exchange=exchange
    )
    return [message async for message in stream]


async def test_a_posts_stream_records_the_event_that_carried_each_request_the_upstream_sent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = b": priming\nid: e0\ndata: \n\n" + sse(("e1", NOTE), ("e2", ASK), ("e3", DONE))
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    exchange = Exchange()
    messages = [
        m
        async for m in client_for(handler).send(
            SERVER, Request(7, "tools/call"), session_id="s1", protocol_version="2025-11-25", exchange=exchange
        )
    ]
    assert len(messages) == 3
    assert exchange.asked_in == {"q1": "e2"}  # only requests: what a resumption starts after


async def test_a_resumption_gets_from_the_last_event_and_asks_again_from_the_newest_until_the_answer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        # As server-everything's event store: what is stored is replayed, nothing comes live.
        body = sse(("e2", NOTE), ("e3", ASK)) if len(seen) == 1 else sse(("e4", DONE))
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    exchange = Exchange()
    messages = await resumed(client_for(handler), exchange)
    assert messages == [
        Notification("notifications/progress", {"progress": 1}),
        Request("q1", "roots/list"),
        Response(7, {"content": []}),
    ]
    assert [(r.method, r.headers["last-event-id"], r.headers["mcp-session-id"]) for r in seen] == [
        ("GET", "e1", "s1"),
        ("GET", "e3", "s1"),
    ]
    assert "authorization" not in seen[0].headers
    assert exchange.asked_in == {"q1": "e3"}


@pytest.mark.parametrize(
    ("status", "error"),
    [(404, UpstreamSessionExpired), (405, UpstreamRefused), (400, UpstreamRefused), (401, UpstreamUnauthorized)],
)
async def test_an_upstream_that_cannot_resume_says_so_with_a_clear_error(status: int, error: type[Exception]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": "no"}})

    with pytest.raises(error):
        await resumed(client_for(handler))


async def test_a_resumption_that_hears_nothing_for_the_servers_timeout_times_out_without_hammering() -> None:
    quiet = ServerSettings.model_validate({"name": "up", "url": "http://upstream.test/mcp", "timeout": 0.5})
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)  # every stream ends at once, with nothing in it
        return httpx.Response(200, content=b"", headers={"content-type": "text/event-stream"})

    stream = HttpUpstreamClient(httpx.MockTransport(handler)).resume(
        quiet, session_id="s1", protocol_version="2025-11-25", last_event_id="e1", answer_id=7
    )
    with pytest.raises(UpstreamTimeout):
        async for _ in stream:
            pass
    assert 2 <= len(seen) <= 5  # asked again after 0.1, 0.2, 0.4 s: backing off, never in a loop


async def test_long_lived_streams_go_through_the_streams_pool_and_calls_through_their_own() -> None:
    """GET streams, resumptions and `subscriptions/listen` (proxied or passed through) never take
    the connections of the calls' pool; calls never go through the streams' one."""
    calls: list[str] = []
    streams: list[str] = []

    def recorder(into: list[str]) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.method == "GET":
                into.append("GET")
                return httpx.Response(200, content=b"", headers={"content-type": "text/event-stream"})
            into.append(json.loads(request.content)["method"])
            answer = b'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n'
            return httpx.Response(200, content=answer, headers={"content-type": "text/event-stream"})

        return httpx.MockTransport(handler)

    client = HttpUpstreamClient(recorder(calls), streams=recorder(streams))
    await collect(client, Request(1, "tools/call", {"name": "echo"}))
    await collect(client, Request(1, "subscriptions/listen", {"notifications": {"toolsListChanged": True}}))
    _ = [m async for m in client.listen(SERVER, session_id="s1", protocol_version="2025-11-25")]
    for method in ("tools/call", "subscriptions/listen"):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": {}}).encode()
        headers = {"content-type": "application/json", "mcp-method": method, "mcp-protocol-version": "2026-07-28"}
        reply = await client.passthrough(SERVER, headers, body)
        _ = [chunk async for chunk in reply.body]
    assert calls == ["tools/call", "tools/call"]
    assert streams == ["subscriptions/listen", "GET", "subscriptions/listen"]


async def test_waiting_too_long_for_a_free_connection_is_this_instances_load_not_the_upstreams_failure() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.PoolTimeout("no connection free", request=request)

    breaker = CircuitBreaker(failures=2, reset_seconds=60, clock=lambda: 0.0)
    client = client_for(handler, breakers={"up": breaker})
    for _ in range(3):
        with pytest.raises(HubBusy, match="its own load"):
            await collect(client, Request(1, "tools/call"))
        with pytest.raises(HubBusy):
            await client.passthrough(SERVER, {"mcp-method": "tools/call"}, b"{}")
    assert breaker.state == "closed"


async def test_a_probe_that_ends_without_a_verdict_lets_the_next_call_probe() -> None:
    """A half-open breaker's probe that hears a 404 (session expired) says nothing about the
    upstream's health; before, the breaker stayed probing and refused every later call for good."""
    now = [0.0]
    answers = [httpx.Response(500), httpx.Response(404)]

    def handler(request: httpx.Request) -> httpx.Response:
        if answers:
            return answers.pop(0)
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": {"content": []}})

    breaker = CircuitBreaker(failures=1, reset_seconds=5, clock=lambda: now[0])
    client = client_for(handler, breakers={"up": breaker})
    with pytest.raises(UpstreamUnavailable):
        await collect(client, Request(1, "tools/call"))
    now[0] = 6.0  # half-open: the next call probes
    with pytest.raises(UpstreamSessionExpired):
        await collect(client, Request(1, "tools/call"))
    assert await collect(client, Request(1, "tools/call")) == [Response(1, {"content": []})]
    assert breaker.state == "closed"
