"""What one composition opened that holds a connection (HTTP clients, Table clients), closed together.

Like svcs's close callbacks: whatever opens a client registers it here at once, so `aclose` of
the composition closes everything it opened, newest first, and one failure does not stop the rest.
"""

from __future__ import annotations

import inspect
import logging

log = logging.getLogger(__name__)


class Closing:
    def __init__(self) -> None:
        self._items: list[object] = []

    def add[T](self, item: T) -> T:
        """Register `item` (it has `aclose()` or `close()`, either may be async) and return it."""
        self._items.append(item)
        return item

    @property
    def opened(self) -> tuple[object, ...]:
        """What is registered and not closed yet, oldest first."""
        return tuple(self._items)

    async def aclose(self) -> None:
        items, self._items = self._items, []
        for item in reversed(items):
            close = getattr(item, "aclose", None) or getattr(item, "close", None)
            if close is None:
                continue
            try:
                result = close()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.warning("could not close %s", type(item).__name__, exc_info=True)
