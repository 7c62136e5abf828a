"""The hub's own Azure identity as an upstream credential (`AUTH=managed_identity`).

azure-identity's ManagedIdentityCredential (system-assigned, or user-assigned via AZURE_CLIENT_ID)
caches and renews tokens itself; it is created on first use, so instances that never call such an
upstream never load it.
"""

from __future__ import annotations

from typing import Any


class ManagedIdentityTokens:
    def __init__(self) -> None:
        self._credential: Any = None

    async def token(self, scope: str, assertion: str | None) -> str:
        if self._credential is None:
            from azure.identity.aio import ManagedIdentityCredential

            self._credential = ManagedIdentityCredential()
        access = await self._credential.get_token(scope)
        return str(access.token)

    async def close(self) -> None:
        if self._credential is not None:
            await self._credential.close()
