from __future__ import annotations

import pytest

from shared.errors import InvalidRequest, ParseError
from shared.mcp.jsonrpc import Notification, Request, Response, decode_body, parse_message, peek_id


def test_request_with_params_is_parsed() -> None:
    message = parse_message({"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {"cursor": "x"}})
    assert message == Request(7, "tools/list", {"cursor": "x"})


def test_message_without_id_is_a_notification() -> None:
    assert parse_message({"jsonrpc": "2.0", "method": "notifications/initialized"}) == Notification(
        "notifications/initialized"
    )


def test_response_with_result_is_parsed() -> None:
    assert parse_message({"jsonrpc": "2.0", "id": "a", "result": {"ok": True}}) == Response("a", {"ok": True})


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ([{"jsonrpc": "2.0", "id": 1, "method": "ping"}], "batches"),
        ("ping", "one JSON-RPC message"),
        ({"id": 1, "method": "ping"}, '"jsonrpc": "2.0"'),
        ({"jsonrpc": "2.0", "id": None, "method": "ping"}, "null is not allowed"),
        ({"jsonrpc": "2.0", "id": True, "method": "ping"}, '"id" must be'),
        ({"jsonrpc": "2.0", "id": 1, "method": ""}, '"method"'),
        ({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]}, '"params" must be an object'),
        ({"jsonrpc": "2.0", "id": 1}, "neither a request"),
    ],
)
def test_invalid_envelopes_are_rejected_with_a_reason(body: object, fragment: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_message(body)
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    "raw",
    [b"{", b"", b"[" * 100_000, b"1" * 5000],
    ids=["truncated", "empty", "deeply-nested", "integer-over-4300-digits"],
)
def test_undecodable_bodies_raise_parse_error(raw: bytes) -> None:
    with pytest.raises(ParseError):
        decode_body(raw)


def test_peek_id_recovers_the_id_of_an_invalid_request() -> None:
    assert peek_id({"id": 5, "method": 3}) == 5
    assert peek_id({"id": [1]}) is None
