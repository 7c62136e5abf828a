"""JSON-RPC 2.0 envelopes as MCP uses them.

The hub forwards most messages without looking inside, so envelopes are validated by hand into
small frozen dataclasses rather than full pydantic models: a pass-through should cost
microseconds, and the payload (`params`, `result`) stays the upstream's business.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, cast

from shared.errors import HubError, InvalidRequest, ParseError

RequestId = str | int
JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Request:
    id: RequestId
    method: str
    params: JsonObject = field(default_factory=dict[str, Any])

    def to_wire(self) -> JsonObject:
        message: JsonObject = {"jsonrpc": "2.0", "id": self.id, "method": self.method}
        if self.params:
            message["params"] = self.params
        return message


@dataclass(frozen=True, slots=True)
class Notification:
    method: str
    params: JsonObject = field(default_factory=dict[str, Any])

    def to_wire(self) -> JsonObject:
        message: JsonObject = {"jsonrpc": "2.0", "method": self.method}
        if self.params:
            message["params"] = self.params
        return message


@dataclass(frozen=True, slots=True)
class Response:
    """A result or an error answering request `id` (`id` is None only for unparseable requests)."""

    id: RequestId | None
    result: JsonObject | None = None
    error: JsonObject | None = None

    def to_wire(self) -> JsonObject:
        message: JsonObject = {"jsonrpc": "2.0", "id": self.id}
        if self.error is not None:
            message["error"] = self.error
        else:
            message["result"] = self.result if self.result is not None else {}
        return message


Message = Request | Notification | Response


def error_response(request_id: RequestId | None, error: HubError) -> Response:
    return Response(id=request_id, error=error.to_error_object())


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def parse_message(decoded: Any) -> Message:
    """Validate one decoded JSON value as a single JSON-RPC message (batches are not MCP)."""
    if isinstance(decoded, list):
        raise InvalidRequest("JSON-RPC batches are not supported by MCP; send one message per request")
    if not isinstance(decoded, dict):
        raise InvalidRequest("the body must be one JSON-RPC message object")
    obj = cast(JsonObject, decoded)
    if obj.get("jsonrpc") != "2.0":
        raise InvalidRequest('the message must carry "jsonrpc": "2.0"')
    params = obj.get("params", {})
    if params is None:
        params = {}
    if "method" in obj:
        method = obj["method"]
        if not isinstance(method, str) or not method:
            raise InvalidRequest('"method" must be a non-empty string')
        if not isinstance(params, dict):
            raise InvalidRequest('"params" must be an object')
        if "id" not in obj:
            return Notification(method=method, params=cast(JsonObject, params))
        if not _valid_id(obj["id"]):
            raise InvalidRequest('"id" must be a string or an integer (null is not allowed)')
        return Request(id=obj["id"], method=method, params=cast(JsonObject, params))
    if "result" in obj or "error" in obj:
        if not _valid_id(obj.get("id")):
            raise InvalidRequest('a response must carry the string or integer "id" it answers')
        result, error = obj.get("result"), obj.get("error")
        if error is not None and not isinstance(error, dict):
            raise InvalidRequest('"error" must be an object')
        if result is not None and not isinstance(result, dict):
            raise InvalidRequest('"result" must be an object')
        return Response(id=obj["id"], result=cast(JsonObject | None, result), error=cast(JsonObject | None, error))
    raise InvalidRequest('the message is neither a request ("method"), nor a response ("result"/"error")')


def decode_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        # Not only JSONDecodeError: huge integers raise ValueError, deep nesting RecursionError.
        raise ParseError("the body is not valid JSON") from None


def dumps(message: JsonObject) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def peek_id(decoded: Any) -> RequestId | None:
    """The request id of a body that failed validation, so the error can still answer it."""
    if isinstance(decoded, dict):
        value = cast(JsonObject, decoded).get("id")
        if _valid_id(value):
            return cast(RequestId, value)
    return None
