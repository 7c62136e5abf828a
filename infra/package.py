"""`make package`: the zip azd and the Core Tools would upload, checked, then started on its own.

1. Build: every file of the project not matched by `.funcignore` (gitignore rules, read with
   pathspec, as both tools read it).
2. Check: nothing from `.local/` (the local vault key), no keys or settings files, no tests,
   infra or node tooling; the app's own files are all there. Prints the size.
3. Run: unpack it, install `requirements.txt` into `.python_packages/lib/site-packages` as the
   platform's build does (cached by the requirements' hash), and start it with the local host in an
   isolated interpreter (`python -I`) whose path holds only the unpacked app, its packages and the
   host (standing in for the Functions worker); then ask it for `/health/live` and an MCP
   `initialize`. Exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pathspec

from infra.processes import AUTH_OFF, ROOT, free_port, wait_for_port

REQUIRED = ("host.json", "function_app.py", "requirements.txt", "functions/mcp_http.py", "shared/hub/service.py")
FORBIDDEN = {
    ".local/": "local state, the local vault key among it",
    ".git/": "the repository",
    ".venv": "a virtual environment",
    "node_modules/": "node tooling",
    "package.json": "node tooling",
    "tests/": "tests",
    "infra/": "local infrastructure",
    "bicep/": "infrastructure as code",
    "local.settings.json": "local settings (secrets)",
    ".env": "local settings (secrets)",
}
SECRET_SUFFIXES = (".pem", ".key", ".pfx")
CACHE = ROOT / ".local" / "package-cache"


def files(root: Path) -> list[str]:
    """The project's files that the package holds, relative and sorted."""
    ignore = root / ".funcignore"
    spec = pathspec.GitIgnoreSpec.from_lines(ignore.read_text().splitlines() if ignore.exists() else [])
    kept: list[str] = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not spec.match_file(relative):
            kept.append(relative)
    return kept


def problems(names: Iterable[str]) -> list[str]:
    """What must not be in a package, and what must be."""
    names = list(names)
    found = [
        f"{name}: {why}"
        for name in names
        for prefix, why in FORBIDDEN.items()
        if name == prefix.rstrip("/") or name.startswith(prefix)
    ]
    found += [f"{name}: a key or certificate" for name in names if name.endswith(SECRET_SUFFIXES)]
    found += [f"{name}: missing, the app cannot start without it" for name in REQUIRED if name not in names]
    return found


def build(root: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in files(root):
            archive.write(root / name, name)
    return target


def checked(root: Path, target: Path) -> tuple[Path, list[str], list[str]]:
    """The package built at `target`, its file names, and what it must not (or must) hold."""
    package = build(root, target)
    with zipfile.ZipFile(package) as archive:
        names = archive.namelist()
    return package, names, problems(names)


def installed(folder: Path, pip_args: list[str]) -> Path:
    """`pip install --target folder <pip_args>`, once: a folder that finished is reused as it is."""
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(folder), *pip_args]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"pip install {' '.join(pip_args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        (folder / ".complete").write_text("")
    return folder


def _packages(requirements: Path) -> Path:
    """requirements.txt installed as the platform's build installs it, once per distinct file."""
    digest = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()[:16]
    return installed(CACHE / f"site-{digest}", ["-r", str(requirements)])


def _host() -> Path:
    """The local Functions host and its server, standing in for the platform's worker."""
    import uvicorn  # only here: to pin the version the tests run with

    host = installed(
        CACHE / f"host-{uvicorn.__version__}", ["--no-deps", f"uvicorn=={uvicorn.__version__}", "h11", "click"]
    )
    shutil.rmtree(host / "infra", ignore_errors=True)
    shutil.copytree(
        ROOT / "infra" / "funchost", host / "infra" / "funchost", ignore=shutil.ignore_patterns("__pycache__")
    )
    (host / "infra" / "__init__.py").write_text("")
    return host


def run(package: Path, workdir: Path) -> None:
    """Start the app from the unpacked zip alone and check it answers."""
    app = workdir / "app"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(app)
    site = _packages(app / "requirements.txt")
    host = _host()
    port = free_port()
    boot = (
        "import runpy, sys; "
        f"sys.path[:0] = {json.dumps([str(app), str(site), str(host)])}; "
        f"sys.argv = ['funchost', '--root', {json.dumps(str(app))}, '--port', '{port}', '--no-timers']; "
        "runpy.run_module('infra.funchost', run_name='__main__')"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(workdir),
        **AUTH_OFF,
        "MCPHUB_SERVER_NONE__URL": "http://127.0.0.1:9/mcp",
    }
    with (workdir / "app.log").open("wb") as log:  # the child keeps its own handle
        argv = [sys.executable, "-I", "-c", boot]
        process = subprocess.Popen(argv, cwd=app, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=60, process=process)
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/health/live", timeout=10) as reply:
            assert reply.status == 200, reply.status
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "package"}},
        }
        request = urllib.request.Request(
            f"{base}/mcp",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"},
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            answer = json.loads(reply.read())
        assert answer["result"]["serverInfo"]["name"] == "mcphub", answer
    except Exception:
        process.terminate()
        process.wait(10)
        raise RuntimeError(
            f"the package did not run on its own:\n{(workdir / 'app.log').read_text()[-3000:]}"
        ) from None
    process.terminate()
    process.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / ".artifacts" / "mcphub.zip")
    parser.add_argument("--no-run", action="store_true", help="build and check only")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    package, names, found = checked(ROOT, args.out)
    size = package.stat().st_size
    print(f"{package}: {len(names)} files, {size / 1024:.0f} KiB")  # noqa: T201 - report
    if found:
        print("the package must not ship:\n  " + "\n  ".join(found))  # noqa: T201
        return 1
    if not args.no_run:
        with tempfile.TemporaryDirectory(prefix="mcphub-package-") as workdir:
            run(package, Path(workdir))
        seconds = time.perf_counter() - started
        print(f"started alone from the zip; /health/live and initialize answered ({seconds:.1f} s)")  # noqa: T201 - report
    return 0


if __name__ == "__main__":
    sys.exit(main())
