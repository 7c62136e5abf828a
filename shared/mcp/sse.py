"""Server-Sent Events framing: encoding hub events and incrementally parsing an upstream's stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

KEEPALIVE = b": keepalive\n\n"
Pump = Callable[["asyncio.Queue[bytes]"], Coroutine[Any, Any, None]]


class OpenStreams:
    """The long-lived streams this process serves (GET streams, `subscriptions/listen`): how many
    now, and the most at once. Each holds one of an instance's concurrent requests, so this is
    what sizes instances when IDEs hold streams (the README's capacity model)."""

    __slots__ = ("now", "peak")

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    def opened(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def closed(self) -> None:
        self.now -= 1


async def merged(pumps: Sequence[Pump], keepalive_seconds: float, streams: OpenStreams) -> AsyncGenerator[bytes]:
    """A long-lived stream fed by several sources: what each pump puts on the queue as it comes, a
    keep-alive comment whenever nothing came for `keepalive_seconds`; the pumps stop with the reader."""
    queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=256)
    tasks = [asyncio.ensure_future(pump(queue)) for pump in pumps]
    streams.opened()
    try:
        while True:
            try:
                yield await asyncio.wait_for(queue.get(), keepalive_seconds)
            except TimeoutError:
                yield KEEPALIVE
    finally:
        streams.closed()
        for task in tasks:
            task.cancel()


def encode_event(data: bytes, *, event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    lines = b"".join(b"data: " + line + b"\n" for line in data.split(b"\n"))
    return head.encode() + b"event: message\n" + lines + b"\n"


@dataclass(frozen=True, slots=True)
class Event:
    event: str
    data: str
    id: str | None
    retry: int | None


class EventParser:
    """Feed bytes as they arrive; get complete events back (WHATWG EventSource parsing rules)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[Event]:
        self._buffer += chunk
        events: list[Event] = []
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                return events
            end, width = cut
            line = self._buffer[:end].decode("utf-8", errors="replace")
            self._buffer = self._buffer[end + width :]
            event = self._line(line)
            if event is not None:
                events.append(event)

    def _line(self, line: str) -> Event | None:
        if not line:
            if not self._data and not self._event:
                return None
            event = Event(self._event or "message", "\n".join(self._data), self._id, self._retry)
            self._data, self._event, self._retry = [], "", None
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None


def _line_end(buffer: bytes) -> tuple[int, int] | None:
    cr, lf = buffer.find(b"\r"), buffer.find(b"\n")
    if cr == -1 and lf == -1:
        return None
    if cr != -1 and (lf == -1 or cr < lf):
        if cr + 1 == len(buffer):
            return None  # might be the first half of \r\n
        return (cr, 2) if buffer[cr + 1 : cr + 2] == b"\n" else (cr, 1)
    return (lf, 1)
