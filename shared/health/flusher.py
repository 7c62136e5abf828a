"""Moves an instance's health samples to the sample store, off the request path.

After a request the hub calls `maybe_flush()`: when the flush interval has passed it starts one
background write and returns at once. Samples that cannot be written are dropped (and logged):
health data must never slow down or fail a user's request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from shared.background import BackgroundTasks
from shared.health.recorder import HealthRecorder
from shared.health.samples import SampleStore

log = logging.getLogger(__name__)


class SampleFlusher:
    def __init__(
        self, recorder: HealthRecorder, store: SampleStore, *, interval: float, clock: Callable[[], float]
    ) -> None:
        self._recorder = recorder
        self._store = store
        self._interval = interval
        self._clock = clock
        self._last = clock()
        self._busy = False
        self._background = BackgroundTasks()

    def maybe_flush(self) -> None:
        if self._busy or self._clock() - self._last < self._interval:
            return
        self._busy = True
        self._last = self._clock()
        self._background.spawn(self._flush_in_background())

    async def flush(self) -> int:
        try:
            samples = self._recorder.drain()
            if samples:
                await self._store.add(samples)
            return len(samples)
        except Exception as error:  # health data is best effort: it must never fail anything else
            log.warning("could not store health samples: %s", type(error).__name__)
            return 0
        finally:
            self._busy = False

    async def _flush_in_background(self) -> None:
        await self.flush()

    async def wait(self) -> None:
        await self._background.drain()
