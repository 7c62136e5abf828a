"""`make run`'s program starts everything, prints the IDE config, and stops everything it started."""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import signal
import subprocess
import sys
import time
from urllib.parse import urlencode

import httpx
import pytest

from infra.processes import ROOT, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.timeout(90)
def test_run_prints_the_mcp_url_and_ide_config_and_cleans_up() -> None:
    port, table_port, sign_in_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "MCPHUB_PORT": str(port),
        "AZURITE_TABLE_PORT": str(table_port),
        "MCPHUB_SIGN_IN_PORT": str(sign_in_port),
        "PYTHONUNBUFFERED": "1",
    }
    run = subprocess.Popen(
        [sys.executable, "-m", "infra.run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert run.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("Press Ctrl-C" in line for line in lines):
        line = run.stdout.readline()
        if not line:
            break
        lines.append(line)
    try:
        output = "".join(lines)
        url = f"http://127.0.0.1:{port}/mcp"
        assert f"MCP URL (all servers):   {url}" in output
        assert '"mcpServers"' in output  # Cursor
        assert '"servers"' in output  # VS Code
        assert "claude mcp add" in output
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
        assert set(health["servers"]) == {"notes", "clock", "flaky", "files"}
        assert "signs you in as developer@local" in output
        assert httpx.post(url, json={}, timeout=5).status_code == 401
        assert browser_sign_in_lands_back_with_a_code(f"http://127.0.0.1:{port}")
    finally:
        run.send_signal(signal.SIGTERM)
        run.wait(30)
        run.stdout.close()
    leftovers = subprocess.run(["pgrep", "-s", str(run.pid)], capture_output=True, text=True, check=False).stdout
    assert leftovers.strip() == ""


def browser_sign_in_lands_back_with_a_code(hub: str) -> bool:
    """What a browser does when an IDE signs in: every hop is plain http, no certificate to accept."""
    redirect = "http://127.0.0.1:33418/callback"
    client_id = httpx.post(f"{hub}/oauth/register", json={"redirect_uris": [redirect]}, timeout=5).json()["client_id"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(b"v" * 50).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    url = f"{hub}/oauth/authorize?{urlencode(query)}"
    with httpx.Client(timeout=10) as browser:
        for _ in range(6):
            assert url.startswith("http://"), url
            if url.startswith(redirect):
                return "code=" in url
            page = browser.get(url)
            if page.status_code == 200:  # the hub's consent page: the developer allows their IDE
                token = re.search(r'name="token" value="([^"]+)"', page.text)
                assert token is not None, page.text
                form = {"token": html.unescape(token.group(1)), "decision": "allow"}
                page = browser.post(f"{hub}/oauth/consent", data=form)
            url = page.headers["location"]
    return False
