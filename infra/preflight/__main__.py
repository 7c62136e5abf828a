"""`make preflight`: the offline checks of a deployment, against Azure's own artefacts.

1. The Functions Python worker indexes function_app.py (and its routes overlap nowhere).
2. host.json and azure.yaml validate against their official schemas.
3. Every Bicep resource type, API version and property exists in Azure's type definitions, and the
   parameters file's stdio servers are complete (shared/stdio.py).
4. `make package`: the zip azd uploads holds only the app, and runs on its own.

Exit status 1 on any problem, each printed with the file and what is wrong. `make test` runs the
same checks (tests/integration/test_preflight.py).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from infra import package
from infra.preflight import bicep, checks, stdio
from infra.processes import ROOT


def main() -> int:
    problems: list[str] = []
    started = time.perf_counter()
    functions, found = checks.worker_index()
    problems += found
    print(f"worker index: {len(functions)} functions, {len(found)} problem(s)")  # noqa: T201 - report
    for document, schema in (("host.json", "host.schema.json"), ("azure.yaml", "azure.yaml.schema.json")):
        found = checks.schema(ROOT / document, schema)
        problems += found
        print(f"{document}: {len(found)} problem(s) against {schema}")  # noqa: T201
    files = sorted((ROOT / "bicep").rglob("*.bicep"))
    found = bicep.check(files)
    problems += found
    print(f"bicep: {len(files)} files against Azure's type definitions, {len(found)} problem(s)")  # noqa: T201
    found = stdio.check(ROOT / "bicep" / "main.parameters.json")
    problems += found
    print(f"stdio servers in main.parameters.json: {len(found)} problem(s)")  # noqa: T201
    with tempfile.TemporaryDirectory(prefix="mcphub-preflight-") as folder:
        zipped, _, found = package.checked(ROOT, Path(folder) / "mcphub.zip")
        problems += found
        if not found:
            package.run(zipped, Path(folder))
        print(f"package: {zipped.stat().st_size / 1024:.0f} KiB, {len(found)} problem(s), started alone")  # noqa: T201
    for problem in problems:
        print(f"  {problem}")  # noqa: T201
    print(f"preflight {'passed' if not problems else 'FAILED'} in {time.perf_counter() - started:.0f} s")  # noqa: T201
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
