"""Protocol revisions of both eras and how the hub picks one per request.

Handshake era (2025-03-26 .. 2025-11-25): `initialize` negotiates a version once per session and
later requests repeat it in the `MCP-Protocol-Version` header. Modern era (2026-07-28): no
handshake and no session; every request carries its version in `params._meta` and the header.
"""

from __future__ import annotations

from typing import Final

HANDSHAKE_VERSIONS: Final[tuple[str, ...]] = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
MODERN_VERSIONS: Final[tuple[str, ...]] = ("2026-07-28",)
LATEST_HANDSHAKE: Final = HANDSHAKE_VERSIONS[-1]

PROTOCOL_VERSION_META_KEY: Final = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_META_KEY: Final = "io.modelcontextprotocol/clientCapabilities"
CLIENT_INFO_META_KEY: Final = "io.modelcontextprotocol/clientInfo"
SERVER_INFO_META_KEY: Final = "io.modelcontextprotocol/serverInfo"


def negotiate_handshake(requested: object) -> str:
    """The version the hub answers `initialize` with: the client's if supported, else our latest."""
    if isinstance(requested, str) and requested in HANDSHAKE_VERSIONS:
        return requested
    return LATEST_HANDSHAKE
