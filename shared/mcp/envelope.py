"""The 2026-07-28 per-request envelope: `params._meta` plus the routing headers that mirror it.

The checks run in the order the SDKs use, first failure wins: the envelope keys are present
(-32602), the `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers agree with the body
(-32020), and the version is one we serve (-32022, naming the supported versions).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from shared.errors import HeaderMismatch, InvalidParams, UnsupportedProtocolVersion
from shared.mcp.jsonrpc import JsonObject
from shared.mcp.versions import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    MODERN_VERSIONS,
    PROTOCOL_VERSION_META_KEY,
)

NAME_FIELDS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
_BASE64 = re.compile(r"^=\?base64\?(?P<payload>.*)\?=$")


@dataclass(frozen=True, slots=True)
class Envelope:
    protocol_version: str
    client_capabilities: JsonObject
    client_info: JsonObject | None
    # `Mcp-Param-*` headers the client derived from a tool's schema (x-mcp-header): relayed as sent.
    param_headers: Mapping[str, str] = field(default_factory=dict[str, str])

    def meta(self) -> JsonObject:
        """The `_meta` keys that carry this envelope in a request."""
        meta: JsonObject = {
            PROTOCOL_VERSION_META_KEY: self.protocol_version,
            CLIENT_CAPABILITIES_META_KEY: self.client_capabilities,
        }
        if self.client_info is not None:
            meta[CLIENT_INFO_META_KEY] = self.client_info
        return meta


def meta_version(params: JsonObject) -> object:
    meta = params.get("_meta")
    return cast(JsonObject, meta).get(PROTOCOL_VERSION_META_KEY) if isinstance(meta, dict) else None


def decode_header_value(value: str | None) -> str | None:
    """Header values that are not plain ASCII travel as `=?base64?...?=`."""
    if value is None:
        return None
    value = value.strip(" \t")  # HTTP field values exclude surrounding whitespace (RFC 9110 5.5)
    found = _BASE64.fullmatch(value)
    if found is None:
        return value
    try:
        return base64.b64decode(found.group("payload"), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def classify(method: str, params: JsonObject, headers: Mapping[str, str]) -> Envelope:
    meta = params.get("_meta")
    if not isinstance(meta, dict):
        raise InvalidParams(
            f"params._meta must carry {PROTOCOL_VERSION_META_KEY!r} and {CLIENT_CAPABILITIES_META_KEY!r}"
        )
    envelope = cast(dict[str, Any], meta)
    missing = [k for k in (PROTOCOL_VERSION_META_KEY, CLIENT_CAPABILITIES_META_KEY) if k not in envelope]
    if missing:
        raise InvalidParams(f"params._meta is missing {', '.join(missing)}")
    version = envelope[PROTOCOL_VERSION_META_KEY]
    header_version = field_value(headers, "mcp-protocol-version")
    if header_version is None or header_version != version:
        raise HeaderMismatch("MCP-Protocol-Version header does not match params._meta's protocol version")
    if field_value(headers, "mcp-method") != method:
        raise HeaderMismatch("Mcp-Method header does not match the request's method")
    name_field = NAME_FIELDS.get(method)
    if name_field is not None:
        body_value = params.get(name_field)
        if body_value is not None and decode_header_value(headers.get("mcp-name")) != body_value:
            raise HeaderMismatch(f"Mcp-Name header does not match params.{name_field}")
    if not isinstance(version, str):
        raise InvalidParams("the protocol version in params._meta must be a string")
    if version not in MODERN_VERSIONS:
        raise UnsupportedProtocolVersion(
            "Unsupported protocol version", data={"supported": list(MODERN_VERSIONS), "requested": version}
        )
    capabilities = envelope[CLIENT_CAPABILITIES_META_KEY]
    info = envelope.get(CLIENT_INFO_META_KEY)
    return Envelope(
        version,
        cast(JsonObject, capabilities) if isinstance(capabilities, dict) else {},
        cast(JsonObject, info) if isinstance(info, dict) else None,
        {name: value for name, value in headers.items() if name.lower().startswith("mcp-param-")},
    )


def encode_header_value(value: str) -> str:
    """A value as a header carries it: plain when it is printable ASCII without surrounding
    whitespace, else `=?base64?...?=` (what `decode_header_value` reads)."""
    if value.isascii() and value.isprintable() and value == value.strip(" \t") and not _BASE64.fullmatch(value):
        return value
    return f"=?base64?{base64.b64encode(value.encode()).decode()}?="


def routing_headers(method: str, params: JsonObject, version: str) -> dict[str, str]:
    """The headers a 2026-07-28 request repeats from its body, for servers and load balancers."""
    headers = {"MCP-Protocol-Version": version, "Mcp-Method": method}
    name_field = NAME_FIELDS.get(method)
    value = params.get(name_field) if name_field else None
    if isinstance(value, str):
        headers["Mcp-Name"] = encode_header_value(value)
    return headers


def field_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value without the surrounding whitespace HTTP does not count as part of it."""
    value = headers.get(name)
    return value.strip(" \t") if value is not None else None
