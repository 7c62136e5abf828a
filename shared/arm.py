"""One Azure Resource Manager client for the controllers that act on Azure: Front Door origins
(routing) and Flex Consumption scale settings (capacity), with the managed identity's token.

What ARM answers and what is done about it:
- 429 (throttled): wait for its `Retry-After` (seconds or an HTTP date, capped), then again;
- 409 (a conflicting operation is still running on the resource, e.g. a deployment): back off, again;
- 5xx and connection failures: back off, again;
- any other 4xx: `ArmError` with ARM's error code, at once;
- 202 (accepted, long-running): follow `Azure-AsyncOperation` (a status document) or `Location`
  (202 until done, then 200/204) to the end; Failed or Canceled is an `ArmError`.
Backoff doubles from `backoff_seconds`; `retries` bounds the attempts of one request.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Callable
from typing import Any

import httpx

from shared.identity.credentials import TokenSource

ARM = "https://management.azure.com"
ARM_SCOPE = "https://management.azure.com/.default"
RETRY_AFTER_CAP_SECONDS = 60.0


class ArmError(Exception):
    """ARM refused a request, or it did not succeed within the retries."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ArmClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenSource,
        *,
        retries: int = 4,
        backoff_seconds: float = 1.0,
        operation_polls: int = 30,
        sleep: Callable[[float], Any] = asyncio.sleep,
        scope: str = ARM_SCOPE,
    ) -> None:
        """`scope`: the token's audience, `<Resource Manager endpoint>/.default` (a sovereign cloud's own)."""
        self._http = http
        self._scope = scope
        self._tokens = tokens
        self._retries = retries
        self._backoff = backoff_seconds
        self._polls = operation_polls
        self._sleep = sleep

    async def call(self, method: str, url: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """One ARM request, retried as the module says; the answer is 2xx."""
        for attempt in range(self._retries + 1):
            headers = {"Authorization": f"Bearer {await self._tokens.token(self._scope, None)}"}
            try:
                response = await self._http.request(method, url, json=body, headers=headers, timeout=30.0)
            except httpx.TransportError as error:
                if attempt == self._retries:
                    raise ArmError(f"ARM {method} failed: {type(error).__name__}") from error
                await self._sleep(self._backoff * 2**attempt)
                continue
            status = response.status_code
            if status in (409, 429) or status >= 500:
                if attempt == self._retries:
                    code = error_code(response)
                    said = f"{status} {code}".strip()
                    raise ArmError(f"ARM {method} answered {said} after {attempt + 1} tries", status=status, code=code)
                await self._sleep(self._wait_for(response, attempt))
                continue
            if status >= 400:
                code = error_code(response)
                raise ArmError(f"ARM {method} refused with {status} {code}", status=status, code=code)
            return response
        raise ArmError("unreachable")  # pragma: no cover - the loop returns or raises

    def _wait_for(self, response: httpx.Response, attempt: int) -> float:
        retry_after = retry_after_seconds(response.headers.get("retry-after", ""))
        return retry_after if retry_after is not None else self._backoff * 2**attempt

    async def wait(self, accepted: httpx.Response) -> None:
        """Follow a long-running operation (a 202) to its end."""
        status_url = accepted.headers.get("azure-asyncoperation")
        location = accepted.headers.get("location")
        if not status_url and not location:
            return
        for attempt in range(self._polls):
            if status_url:
                state = str((await self.call("GET", status_url)).json().get("status", "Succeeded"))
                if state == "Succeeded":
                    return
                if state in ("Failed", "Canceled"):
                    raise ArmError(f"the operation ended {state.lower()}")
            else:
                assert location is not None
                poll = await self.call("GET", location)
                if poll.status_code != 202:  # Location answers 202 until the operation is done
                    return
            await self._sleep(min(10.0, self._backoff * 2**attempt))
        raise ArmError("the operation did not finish")


def retry_after_seconds(value: str, *, now: Callable[[], float] = time.time) -> float | None:
    """`Retry-After` as seconds (a number or an HTTP date), capped; None when absent or unreadable."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return min(RETRY_AFTER_CAP_SECONDS, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(RETRY_AFTER_CAP_SECONDS, max(0.0, when.timestamp() - now()))


def error_code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", {}).get("code", ""))
    except ValueError:
        return ""
