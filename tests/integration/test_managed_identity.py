"""The managed-identity credential source runs azure-identity's real ManagedIdentityCredential,
here against a local stand-in for the Functions/App Service identity endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from infra.processes import free_port
from shared.identity.managed import ManagedIdentityTokens

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
async def identity_endpoint(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[dict[str, str]]]:
    """The App Service managed identity protocol: GET ?resource=...&api-version=2019-08-01 with X-IDENTITY-HEADER."""
    seen: list[dict[str, str]] = []

    async def token(request: web.Request) -> web.Response:
        seen.append(
            {"resource": request.query.get("resource", ""), "header": request.headers.get("X-IDENTITY-HEADER", "")}
        )
        body = {
            "access_token": "mi-token-for-" + request.query["resource"],
            "expires_on": "4102444800",
            "token_type": "Bearer",
            "resource": request.query["resource"],
        }
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/msi/token", token)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{port}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "local-secret-header")
    monkeypatch.delenv("MSI_ENDPOINT", raising=False)
    monkeypatch.delenv("AZURE_CLIENT_ID", raising=False)
    yield seen
    await runner.cleanup()


async def test_the_hubs_managed_identity_token_is_fetched_for_the_servers_scope_and_cached(
    identity_endpoint: list[dict[str, str]],
) -> None:
    tokens = ManagedIdentityTokens()
    try:
        first = await tokens.token("api://upstream-app/.default", None)
        second = await tokens.token("api://upstream-app/.default", None)
    finally:
        await tokens.close()
    assert first == second == "mi-token-for-api://upstream-app"
    assert identity_endpoint == [{"resource": "api://upstream-app", "header": "local-secret-header"}]
