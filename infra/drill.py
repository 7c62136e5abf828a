"""`make drill`: the failover drill. Two local regions (hub instances on one Azurite) behind HAProxy,
the demo upstream, MCP clients of both protocol eras calling all the time; then
  (a) region A degrades gradually (injected errors creeping up, then /health failing too): the
      health timer must drain A before it fails;
  (b) region A is killed outright, and later started again.
Prints a report: calls attempted and failed per phase, time to drain and the prediction's lead
time, sessions that continued in region B, and when A was back in service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from infra.processes import AUTH_OFF, ROOT, Child, Processes, azurite_connection_string, free_port, wait_for_port
from infra.proxy import start_proxy
from shared.health.haproxy import HaproxyController
from shared.health.samples import TableSampleStore

HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
LEGACY, MODERN = "2025-11-25", "2026-07-28"


@dataclass
class Phase:
    name: str
    attempted: int = 0
    failed: int = 0
    notes: list[str] = field(default_factory=list[str])
    reasons: dict[str, int] = field(default_factory=dict[str, int])


@dataclass
class Report:
    phases: list[Phase] = field(default_factory=list[Phase])
    drained_after_s: float | None = None
    lead_s: float | None = None
    sessions: int = 0
    sessions_continued: int = 0
    failed_after_drain: int = 0
    recovered_after_s: float | None = None
    hog: int = 0  # busy processes run beside the drill (`make drill HOG=1`)
    recorded: list[dict[str, object]] = field(default_factory=list[dict[str, object]])  # for `--record`

    def text(self) -> str:
        lines = ["phase                     attempted  failed"]
        lines += [f"{p.name:<25} {p.attempted:>9} {p.failed:>7}  {'; '.join(p.notes)}" for p in self.phases]
        lines.append(f"time to drain region A:   {_seconds(self.drained_after_s)} after degradation began")
        lines.append(f"prediction lead time:     {_seconds(self.lead_s)} before region A failed")
        lines.append(f"failed calls after drain: {self.failed_after_drain}")
        lines.append(f"sessions continued:       {self.sessions_continued} of {self.sessions}")
        lines.append(f"region A back in service: {_seconds(self.recovered_after_s)} after it was started again")
        hog = f"with a CPU hog ({self.hog} busy processes)" if self.hog else "without a CPU hog"
        per_phase = ", ".join(f"{p.name} {p.failed}" for p in self.phases)
        lines.append(f"failed calls per phase, {hog}: {per_phase}; in all {sum(p.failed for p in self.phases)}")
        return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


class Client:
    """One MCP client: a legacy session (kept across the drill) or a stateless 2026-07-28 client."""

    def __init__(self, http: httpx.AsyncClient, era: str) -> None:
        self.http, self.era, self.headers, self.next_id = http, era, dict(HEADERS), 1
        self.last_failure = ""

    async def open(self) -> None:
        if self.era == MODERN:
            self.headers["MCP-Protocol-Version"] = MODERN
            return
        init = {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "drill", "version": "1"}}
        answer = await self.http.post("/mcp", json=self._message("initialize", init), headers=self.headers)
        answer.raise_for_status()
        self.headers |= {"Mcp-Session-Id": answer.headers["mcp-session-id"], "MCP-Protocol-Version": LEGACY}

    def _message(self, method: str, params: dict[str, object]) -> dict[str, object]:
        self.next_id += 1
        if self.era == MODERN:
            meta = {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "drill", "version": "1"},
            }
            params = {**params, "_meta": meta}
        return {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}

    async def call(self) -> bool:
        body = self._message("tools/call", {"name": "notes__echo", "arguments": {"text": "drill"}})
        headers = self.headers | ({"Mcp-Method": "tools/call", "Mcp-Name": "notes__echo"} if self.era == MODERN else {})
        try:
            response = await self.http.post("/mcp", json=body, headers=headers)
        except httpx.HTTPError as error:
            self.last_failure = f"{self.era} {type(error).__name__}"
            return False
        text = response.text
        if response.status_code != 200 or '"result"' not in text or '"isError":true' in text.replace(" ", ""):
            self.last_failure = f"{self.era} HTTP {response.status_code} {text[:120]}"
            return False
        return True


async def traffic(clients: list[Client], phase: Phase, until: asyncio.Event, failures_at: list[float]) -> None:
    async def loop(client: Client) -> None:
        while not until.is_set():
            phase.attempted += 1
            if not await client.call():
                phase.failed += 1
                failures_at.append(time.monotonic())
                phase.reasons[client.last_failure] = phase.reasons.get(client.last_failure, 0) + 1
            await asyncio.sleep(0.02)

    await asyncio.gather(*(loop(c) for c in clients))


async def drill(
    processes: Processes, work: Path, *, short: bool, record: bool = False, controller: bool = True
) -> Report:
    report = Report()
    began = time.time()
    azurite = processes.azurite()
    notes = processes.demo("notes")
    faults = work / "region-a-faults.json"
    faults.write_text("{}")
    ports, admin = {"a": free_port(), "b": free_port()}, free_port()
    env = {
        "MCPHUB_SERVER_NOTES__URL": f"{notes.url}/mcp",
        "MCPHUB_HEALTH_FLUSH_SECONDS": "0.2",
        "MCPHUB_HEALTH_SCHEDULE": "*/1 * * * * *",
        "MCPHUB_ROUTING__KIND": "haproxy",
        "MCPHUB_ROUTING__HAPROXY_ADMIN": f"127.0.0.1:{admin}",
        "MCPHUB_ROUTING__WINDOW_SECONDS": "2",
        "MCPHUB_ROUTING__HISTORY_SECONDS": "12",
        "MCPHUB_ROUTING__PROPAGATION_SECONDS": "1",
        # Longer than the degradation: a drained region shows no traffic, so only time argues for it.
        "MCPHUB_ROUTING__COOLDOWN_SECONDS": "15" if short else "60",
        "MCPHUB_ROUTING__RESTORE_AFTER": "2",
        # An instance failing its callers holds /health at 503 this long: HAProxy checks every
        # 0.5 s, so 5 s is ten checks (Front Door's 30 s probes need the default 60 s).
        "MCPHUB_HEALTH_FAILING_HOLD_SECONDS": "5",
        **AUTH_OFF,
    }
    if not controller:  # what a missed prediction records: only HAProxy's health checks act
        env["MCPHUB_ROUTING__KIND"] = "none"

    def start_region(region: str) -> Child:
        extra = {"MCPHUB_REGION": region, **({"MCPHUB_LOCAL_FAULTS_FILE": str(faults)} if region == "a" else {})}
        return processes.hub_over(f"hub-{region}", azurite, {}, {**env, **extra}, ports[region])

    hubs = {region: start_region(region) for region in ports}
    proxy = start_proxy(processes, ports, admin_port=admin)
    router = HaproxyController("127.0.0.1", admin)
    limits = httpx.Limits(max_keepalive_connections=0)  # each call balanced anew, as from many users
    async with httpx.AsyncClient(base_url=proxy.url, timeout=10, limits=limits) as http:
        clients = [Client(http, era) for era in (LEGACY, LEGACY, LEGACY, MODERN, MODERN)]
        await asyncio.gather(*(c.open() for c in clients))
        report.sessions = sum(c.era == LEGACY for c in clients)

        async def run(name: str, body: object) -> Phase:
            phase, stop, failures = Phase(name), asyncio.Event(), list[float]()
            report.phases.append(phase)
            mover = asyncio.ensure_future(body(phase, stop, failures))  # type: ignore[operator] - the phase bodies share a shape pyright cannot see through `object`
            await traffic(clients, phase, stop, failures)
            await mover
            return phase

        async def steady(phase: Phase, stop: asyncio.Event, failures: list[float]) -> None:
            await asyncio.sleep(3 if short else 10)
            stop.set()

        async def degrade(phase: Phase, stop: asyncio.Event, failures: list[float]) -> None:
            began = time.monotonic()
            ramp = [0.02, 0.04, 0.06, 0.09, 0.13] if short else [0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.13]
            drained_at = failed_at = None
            for rate in [*ramp, None]:
                if rate is None:  # now region A fails for real: errors everywhere and /health down
                    faults.write_text(json.dumps({"error_rate": 0.9, "health_down": True}))
                    failed_at = time.monotonic()
                else:
                    faults.write_text(json.dumps({"error_rate": rate}))
                step_end = time.monotonic() + (3 if short else 6)
                while time.monotonic() < step_end:
                    if drained_at is None and not {o.name: o.enabled for o in await router.origins()}["a"]:
                        drained_at = time.monotonic()
                    await asyncio.sleep(0.1)
            await asyncio.sleep(3 if short else 6)
            if drained_at is not None:
                report.drained_after_s = drained_at - began
                report.lead_s = failed_at - drained_at if failed_at is not None else None
                report.failed_after_drain += sum(1 for t in failures if t > drained_at + 1)
            phase.notes.append("A drained" if drained_at else "A NOT drained")
            stop.set()

        async def heal(phase: Phase, stop: asyncio.Event, failures: list[float]) -> None:
            faults.write_text("{}")
            for _ in range(400 if short else 900):  # up to 80 s / 180 s
                if all(o.enabled for o in await router.origins()):
                    break
                await asyncio.sleep(0.2)
            phase.notes.append("A restored" if all(o.enabled for o in await router.origins()) else "A NOT restored")
            stop.set()

        async def kill(phase: Phase, stop: asyncio.Event, failures: list[float]) -> None:
            hubs["a"].stop()
            await asyncio.sleep(4 if short else 10)
            started = time.monotonic()
            hubs["a"] = start_region("a")
            wait_for_port(ports["a"])
            for _ in range(150):  # up to 30 s
                status = (await http.get(f"http://127.0.0.1:{ports['a']}/health")).status_code
                if status == 200 and any(o.name == "a" and o.enabled for o in await router.origins()):
                    report.recovered_after_s = time.monotonic() - started
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(2)
            stop.set()

        await run("steady", steady)
        await run("A degrades", degrade)
        await run("A heals", heal)
        await run("A killed, restarted", kill)
        report.sessions_continued = sum([await c.call() for c in clients if c.era == LEGACY])
    if record:  # the health samples both regions wrote, for retraining (`--record`)
        store = TableSampleStore.from_connection_string(azurite_connection_string(azurite.port), "mcphubhealth")
        try:
            samples = await store.window(began - 60, time.time() + 60)
        finally:
            await store.close()
        report.recorded = [asdict(s) for s in samples]
    return report


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--short", action="store_true", help="the quick version the test suite runs")
    parser.add_argument(
        "--hog", type=int, default=0, metavar="N", help="run N busy processes beside the drill (CPU contention)"
    )
    parser.add_argument("--record", type=Path, metavar="FILE", help="write the health samples recorded to FILE (JSON)")
    parser.add_argument(
        "--no-controller",
        action="store_true",
        help="no routing controller: region A fails with callers still on it (recordings of a missed prediction)",
    )
    args = parser.parse_args(argv)
    processes = Processes(ROOT / ".local" / "logs" / "drill")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hog)]
    try:
        run = drill(
            processes,
            processes.log_dir,
            short=args.short,
            record=args.record is not None,
            controller=not args.no_controller,
        )
        report = asyncio.run(run)
        report.hog = args.hog
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
        processes.stop_all()
    sys.stdout.write(report.text() + "\n")
    if args.record is not None:
        args.record.write_text(json.dumps(report.recorded) + "\n")
        sys.stdout.write(f"recorded {len(report.recorded)} health samples to {args.record}\n")
    return report


if __name__ == "__main__":
    main()
