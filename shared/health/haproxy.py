"""The local routing controller: HAProxy in front of two local hub "regions", driven through its
runtime API (a TCP admin socket), so the failover drill exercises the same Protocol as Front Door.

Origins are the servers of one backend. Disabled = administrative maintenance (no traffic);
weights are HAProxy's (0-256). Priority would be HAProxy's `backup` flag, which cannot change at
runtime, so asking to change it is refused.
"""

from __future__ import annotations

import asyncio

from shared.health.routing import Origin, RoutingError, check_update

# srv_admin_state bits (haproxy/include/haproxy/server-t.h): forced/inherited maintenance, drain.
_MAINTENANCE_OR_DRAIN = 0x01 | 0x02 | 0x04 | 0x08 | 0x10 | 0x20
_STOPPED = 0  # srv_op_state: 0 stopped (down by its checks), 1 starting, 2 running, 3 stopping


class HaproxyController:
    def __init__(self, host: str, port: int, *, backend: str = "hub", timeout: float = 5.0) -> None:
        self._address = (host, port)
        self._backend = backend
        self._timeout = timeout

    async def _command(self, command: str, *, shows: bool = False) -> str:
        """Run one runtime API command. `show` commands answer with data; `set` commands answer
        with nothing when they worked, so any text from them is HAProxy refusing."""
        try:
            async with asyncio.timeout(self._timeout):
                reader, writer = await asyncio.open_connection(*self._address)
                try:
                    writer.write(command.encode() + b"\n")
                    await writer.drain()
                    answer = (await reader.read()).decode()
                finally:
                    writer.close()
                    await writer.wait_closed()
        except (OSError, TimeoutError) as error:
            raise RoutingError(f"HAProxy runtime API unreachable: {type(error).__name__}") from error
        if (shows and not answer.startswith("1\n")) or (not shows and answer.strip()):
            raise RoutingError(f"HAProxy refused {' '.join(command.split()[:3])!r}: {answer.strip()[:200]}")
        return answer

    def health_url(self, origin: Origin) -> str | None:
        return f"http://{origin.host}/health"

    async def origins(self) -> list[Origin]:
        answer = await self._command(f"show servers state {self._backend}", shows=True)
        lines = [line for line in answer.splitlines() if line and not line.startswith("#")]
        header = next((line for line in answer.splitlines() if line.startswith("# be_id")), "")
        columns = header.lstrip("# ").split()
        origins: list[Origin] = []
        for line in lines[1:]:  # the first line is the format version
            row = dict(zip(columns, line.split(), strict=False))
            origins.append(
                Origin(
                    name=row["srv_name"],
                    host=f"{row['srv_addr']}:{row['srv_port']}",
                    enabled=not int(row["srv_admin_state"]) & _MAINTENANCE_OR_DRAIN,
                    priority=1,
                    weight=int(row["srv_uweight"]),
                    serving=int(row["srv_op_state"]) != _STOPPED,
                )
            )
        return sorted(origins, key=lambda o: o.name)

    async def update(
        self, name: str, *, enabled: bool | None = None, priority: int | None = None, weight: int | None = None
    ) -> Origin:
        current = check_update(await self.origins(), name, enabled)
        if priority is not None and priority != current.priority:
            raise RoutingError("HAProxy cannot change a server's priority (backup flag) at runtime")
        if weight is not None and weight != current.weight:
            if not 0 <= weight <= 256:
                raise RoutingError("HAProxy weights go from 0 to 256")
            await self._command(f"set server {self._backend}/{name} weight {weight}")
        if enabled is not None and enabled != current.enabled:
            await self._command(f"set server {self._backend}/{name} state {'ready' if enabled else 'maint'}")
        return next(o for o in await self.origins() if o.name == name)
