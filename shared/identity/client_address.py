"""Which address a request came from, taken only from a source that cannot be forged.

Limits keyed by address (client registration) are worthless if the caller picks the key, so
`X-Forwarded-For` is never read: any client can send it. On Azure the Functions worker's socket
peer is the Functions host, not the client, and the app is reachable only through Front Door
(bicep/modules/functionapp.bicep restricts it by `X-Azure-FDID`), so the address is Front Door's
`X-Azure-ClientIP`, believed only when `X-Azure-FDID` is this hub's Front Door ID
(MCPHUB_FRONT_DOOR_ID). Locally it is the socket peer (the local host does not rewrite it from
proxy headers). A request that claims Front Door with another ID, or sends an address that is
not one, gets the peer: it cannot pick its own bucket.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Mapping

log = logging.getLogger("mcphub")

# Set on every Azure App Service / Functions instance; absent on a developer's machine.
_ON_AZURE = "WEBSITE_INSTANCE_ID"


def client_address(headers: Mapping[str, str], peer: str | None, *, front_door_id: str | None) -> str:
    """The caller's address: Front Door's when it is provably Front Door, else the socket peer."""
    if front_door_id:
        claimed = headers.get("x-azure-fdid", "")
        if hmac.compare_digest(claimed.encode(), front_door_id.encode()):
            address = headers.get("x-azure-clientip", "").strip()
            try:
                return str(ipaddress.ip_address(address))
            except ValueError:
                pass
    return peer or "unknown"


def warn_if_untrusted(front_door_id: str | None, environ: Mapping[str, str] = os.environ) -> bool:
    """Say loudly at start when, on Azure, every caller would share the Functions host's address."""
    if front_door_id or _ON_AZURE not in environ:
        return False
    log.warning(
        "MCPHUB_FRONT_DOOR_ID is not set: on Azure the worker sees the Functions host as every caller's "
        "address, so per-address limits (client registration) put all callers in one bucket. Set it to "
        "the Front Door profile's ID (the Bicep sets it)."
    )
    return True
