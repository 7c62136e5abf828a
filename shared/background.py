"""Fire-and-forget work off the request path (last-seen writes, cancellations), kept referenced.

asyncio keeps only weak references to tasks, so an unreferenced task can vanish mid-flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class BackgroundTasks:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("background task failed: %s", type(error).__name__)

    async def drain(self) -> None:
        """Wait until nothing is pending (tests, graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


class FlushSoon:
    """Runs `flush` once, `seconds` after the first `schedule()` since the last run: buffered
    writes (audit records, usage totals) leave within that time even if no request follows."""

    def __init__(self, seconds: float, flush: Callable[[], Awaitable[object]]) -> None:
        self._seconds = seconds
        self._flush = flush
        self._timer: asyncio.TimerHandle | None = None
        self._tasks = BackgroundTasks()

    def schedule(self) -> None:
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous caller): the next flush takes it
        self._timer = loop.call_later(self._seconds, self._run)

    def _run(self) -> None:
        self._timer = None
        self._tasks.spawn(self._call())

    async def _call(self) -> None:
        await self._flush()
