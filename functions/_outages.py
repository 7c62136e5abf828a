"""A storage outage answered at once, on routes outside the MCP pipeline (which answers it itself).

`@answers_outages` on an HTTP function turns StorageUnavailable (a table that passed its deadline,
shared/tables.py) into 503 with Retry-After and an OAuth-style JSON error naming the store, instead
of the host's bare 500 after minutes of SDK retries.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable

from azurefunctions.extensions.http.fastapi import Request, Response

from shared.errors import StorageUnavailable


def answers_outages(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    @functools.wraps(handler)
    async def guarded(req: Request) -> Response:
        try:
            return await handler(req)
        except StorageUnavailable as outage:
            body = {"error": "temporarily_unavailable", "error_description": outage.message, "store": outage.store}
            headers = {"Retry-After": str(outage.retry_after), "Cache-Control": "no-store"}
            return Response(json.dumps(body), status_code=503, media_type="application/json", headers=headers)

    return guarded
