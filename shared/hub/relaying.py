"""Turning what an upstream sends for one request into the client's HTTP reply (JSON or SSE)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable

from shared.errors import HubError, UpstreamProtocolError, modern_status
from shared.http import HttpOut, error_reply, json_reply, request_error, request_error_reply, sse_reply
from shared.mcp import jsonrpc, sse
from shared.mcp.jsonrpc import Message, Request, Response

Rewrite = Callable[[Message], Message | None]  # None drops the message


async def relay_reply(
    request: Request,
    upstream: AsyncGenerator[Message],
    rewrite: Rewrite,
    *,
    on_abandon: Callable[[], None],
    force_stream: Callable[[], bool] = lambda: False,
    modern: bool = False,
) -> HttpOut:
    """JSON when the first thing the upstream sends is the answer, else an SSE stream of everything.

    `force_stream` (checked after the first message) keeps the upstream's own SSE form on the
    transparent endpoint. `on_abandon` runs when the client leaves before the answer arrived.
    """
    try:
        first = await _next_kept(upstream, rewrite)
    except HubError as error:
        await upstream.aclose()
        answer = framed_error(error, request, rewrite)
        if answer.result is not None:  # a tool error, framed as the era frames results
            return json_reply(answer.to_wire())
        return request_error_reply(error, request, modern=modern)
    if first is None:
        return error_reply(UpstreamProtocolError("", "the upstream sent no answer"), request.id, modern=modern)
    if isinstance(first, Response) and first.id == request.id:
        await upstream.aclose()
        if force_stream():
            # The upstream's form, one event, sent as a plain body: no streaming machinery needed.
            return sse_reply(body=sse.encode_event(jsonrpc.dumps(first.to_wire())))
        status = modern_status(first.error.get("code")) if modern and first.error is not None else 200
        return json_reply(first.to_wire(), status=status)
    return sse_reply(_stream(request, first, upstream, rewrite, on_abandon))


def framed_error(error: HubError, request: Request, rewrite: Rewrite) -> Response:
    """The answer to a request that failed; a tool error (a result) goes through the era's rewrite
    like any result (2026-07-28 results carry `resultType`)."""
    answer = request_error(error, request)
    if answer.result is None:
        return answer
    framed = rewrite(answer)
    return framed if isinstance(framed, Response) else answer


async def _next_kept(upstream: AsyncGenerator[Message], rewrite: Rewrite) -> Message | None:
    async for message in upstream:
        kept = rewrite(message)
        if kept is not None:
            return kept
    return None


async def _stream(
    request: Request,
    first: Message,
    upstream: AsyncGenerator[Message],
    rewrite: Rewrite,
    on_abandon: Callable[[], None],
) -> AsyncIterator[bytes]:
    answered = isinstance(first, Response) and first.id == request.id
    try:
        yield sse.encode_event(jsonrpc.dumps(first.to_wire()))
        if answered:
            return
        async for message in upstream:
            kept = rewrite(message)
            if kept is None:
                continue
            answered = isinstance(kept, Response) and kept.id == request.id
            yield sse.encode_event(jsonrpc.dumps(kept.to_wire()))
            if answered:
                return
    except HubError as error:  # an upstream failure, or a plugin refusing the answer
        answered = True
        yield sse.encode_event(jsonrpc.dumps(framed_error(error, request, rewrite).to_wire()))
    finally:
        await upstream.aclose()
        if not answered:
            on_abandon()
