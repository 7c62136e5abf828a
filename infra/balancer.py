"""A client-side stand-in for a load balancer without affinity, for tests and benchmarks."""

from __future__ import annotations

import itertools

import httpx2


class AlternatingTransport(httpx2.AsyncHTTPTransport):
    """Sends each request to the next hub instance in turn, as a load balancer without affinity would."""

    def __init__(self, ports: list[int]) -> None:
        super().__init__()
        self._ports = itertools.cycle(ports)
        self.seen: list[int] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = next(self._ports)
        self.seen.append(port)
        request.url = request.url.copy_with(port=port)
        return await super().handle_async_request(request)
