"""Bad input gets the spec's status and JSON-RPC code, a clear message, and the hub keeps serving."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from infra.processes import Child
from tests.wire import HEADERS, INIT

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
async def http(hub: Child) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hub.url, timeout=10) as client:
        yield client


async def open_session(http: httpx.AsyncClient) -> dict[str, str]:
    response = await http.post("/mcp", json=INIT, headers=HEADERS)
    assert response.status_code == 200
    session = response.headers["mcp-session-id"]
    headers = {**HEADERS, "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
    initialized = await http.post(
        "/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers
    )
    assert initialized.status_code == 202
    return headers


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["error"]


async def test_malformed_json_is_a_parse_error(http: httpx.AsyncClient) -> None:
    response = await http.post("/mcp", content=b'{"jsonrpc": "2.0", "id": 1,', headers=HEADERS)
    assert response.status_code == 400
    assert response.json()["id"] is None
    assert error_of(response)["code"] == -32700


async def test_batches_are_rejected_as_invalid_requests(http: httpx.AsyncClient) -> None:
    response = await http.post("/mcp", json=[INIT, INIT], headers=HEADERS)
    assert response.status_code == 400
    assert error_of(response)["code"] == -32600
    assert "batch" in error_of(response)["message"]


async def test_invalid_envelope_is_answered_with_its_id(http: httpx.AsyncClient) -> None:
    response = await http.post("/mcp", json={"jsonrpc": "1.0", "id": 9, "method": "ping"}, headers=HEADERS)
    assert response.status_code == 400
    assert response.json()["id"] == 9
    assert error_of(response)["code"] == -32600


async def test_unknown_method_is_method_not_found(http: httpx.AsyncClient) -> None:
    headers = await open_session(http)
    response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "tools/destroy"}, headers=headers)
    assert response.status_code == 200
    assert error_of(response)["code"] == -32601
    assert "tools/destroy" in error_of(response)["message"]


async def test_wrong_content_type_gets_415(http: httpx.AsyncClient) -> None:
    headers = {**HEADERS, "Content-Type": "text/plain"}
    response = await http.post("/mcp", content=json.dumps(INIT), headers=headers)
    assert response.status_code == 415


async def test_accept_without_event_stream_gets_406(http: httpx.AsyncClient) -> None:
    response = await http.post("/mcp", json=INIT, headers={**HEADERS, "Accept": "application/json"})
    assert response.status_code == 406


async def test_oversized_body_gets_413_and_names_the_limit(http: httpx.AsyncClient) -> None:
    big = {**INIT, "params": {**INIT["params"], "padding": "x" * 70_000}}
    response = await http.post("/mcp", json=big, headers=HEADERS)
    assert response.status_code == 413
    assert "MCPHUB_MAX_BODY_BYTES" in error_of(response)["message"]


async def test_request_without_session_gets_400(http: httpx.AsyncClient) -> None:
    response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers=HEADERS)
    assert response.status_code == 400
    assert "Mcp-Session-Id" in error_of(response)["message"]


async def test_unknown_session_gets_404_so_clients_reinitialize(http: httpx.AsyncClient) -> None:
    headers = {**HEADERS, "Mcp-Session-Id": "not-a-session"}
    response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers=headers)
    assert response.status_code == 404


async def test_session_of_one_endpoint_is_unknown_on_another(http: httpx.AsyncClient) -> None:
    headers = await open_session(http)
    response = await http.post("/mcp/notes", json={"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers=headers)
    assert response.status_code == 404


async def test_deleted_session_is_gone(http: httpx.AsyncClient) -> None:
    headers = await open_session(http)
    assert (await http.delete("/mcp", headers=headers)).status_code == 200
    response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers=headers)
    assert response.status_code == 404


async def test_unknown_server_gets_404(http: httpx.AsyncClient) -> None:
    response = await http.post("/mcp/nowhere", json=INIT, headers=HEADERS)
    assert response.status_code == 404
    assert "nowhere" in error_of(response)["message"]


async def test_foreign_origin_gets_403(http: httpx.AsyncClient) -> None:
    response = await http.post("/mcp", json=INIT, headers={**HEADERS, "Origin": "https://evil.example"})
    assert response.status_code == 403


async def test_unsupported_protocol_version_header_gets_400(http: httpx.AsyncClient) -> None:
    headers = {**(await open_session(http)), "MCP-Protocol-Version": "1999-01-01"}
    response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers=headers)
    assert response.status_code == 400
    assert "1999-01-01" in error_of(response)["message"]


async def test_response_to_nothing_the_hub_relayed_is_refused(http: httpx.AsyncClient) -> None:
    headers = await open_session(http)
    response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": "forged", "result": {}}, headers=headers)
    assert response.status_code == 400


async def test_method_the_function_does_not_list_gets_404_like_the_real_host(http: httpx.AsyncClient) -> None:
    assert (await http.put("/mcp", json=INIT, headers=HEADERS)).status_code == 404


async def test_hub_keeps_serving_after_bad_input(http: httpx.AsyncClient) -> None:
    await http.post("/mcp", content=b"\xff\xfe", headers=HEADERS)
    headers = await open_session(http)
    response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 3, "method": "ping"}, headers=headers)
    assert response.json() == {"jsonrpc": "2.0", "id": 3, "result": {}}


def modern(
    method: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    body = {"jsonrpc": "2.0", "id": 5, "method": method, "params": {**(params or {}), "_meta": meta}}
    base = {**HEADERS, "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": method}
    return body, {**base, **(headers or {})}


async def test_stateless_discover_needs_no_session(http: httpx.AsyncClient) -> None:
    body, headers = modern("server/discover")
    response = await http.post("/mcp", json=body, headers=headers)
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["supportedVersions"] == ["2026-07-28"]
    assert result["resultType"] == "complete"
    assert "mcp-session-id" not in response.headers


async def test_stateless_routing_header_that_disagrees_with_the_body_gets_400(http: httpx.AsyncClient) -> None:
    body, headers = modern("tools/list", headers={"Mcp-Method": "prompts/list"})
    response = await http.post("/mcp", json=body, headers=headers)
    assert response.status_code == 400
    assert error_of(response)["code"] == -32020


async def test_stateless_request_without_envelope_gets_invalid_params(http: httpx.AsyncClient) -> None:
    body, headers = modern("tools/list")
    del body["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"]
    response = await http.post("/mcp", json=body, headers=headers)
    assert response.status_code == 400
    assert error_of(response)["code"] == -32602


async def test_unknown_stateless_version_names_the_supported_ones(http: httpx.AsyncClient) -> None:
    body, headers = modern("tools/list", headers={"MCP-Protocol-Version": "2099-01-01"})
    body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = "2099-01-01"
    response = await http.post("/mcp", json=body, headers=headers)
    assert response.status_code == 400
    assert error_of(response)["code"] == -32022
    assert error_of(response)["data"] == {"supported": ["2026-07-28"], "requested": "2099-01-01"}


async def test_stateless_unknown_method_gets_404(http: httpx.AsyncClient) -> None:
    body, headers = modern("tools/destroy")
    response = await http.post("/mcp", json=body, headers=headers)
    assert response.status_code == 404
    assert error_of(response)["code"] == -32601


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_stateless_era_has_no_get_or_delete(http: httpx.AsyncClient, method: str) -> None:
    response = await http.request(method, "/mcp", headers={**HEADERS, "MCP-Protocol-Version": "2026-07-28"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_stateless_notification_is_accepted_and_dropped(http: httpx.AsyncClient) -> None:
    headers = {**HEADERS, "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "notifications/cancelled"}
    body = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}
    assert (await http.post("/mcp", json=body, headers=headers)).status_code == 202


async def test_forwarded_host_headers_do_not_change_the_advertised_resource(
    http: httpx.AsyncClient, hub: Child
) -> None:
    forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    metadata = await http.get("/.well-known/oauth-protected-resource/mcp", headers=forged)
    assert metadata.json()["resource"] == f"{hub.url}/mcp"
