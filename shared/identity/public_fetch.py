"""Fetching a document from a URL that a stranger chose, without reaching into the hub's network.

A client ID metadata document (MCP 2025-11-25) is fetched from whatever HTTPS URL an unauthenticated
client names, so the fetch is a server-side request forgery waiting to happen: `https://127.1/`,
`https://0x7f.1/`, `https://169.254.43518/` (= 169.254.169.254, the cloud metadata endpoint) and any
DNS name pointing inside are all ways to the hub's own network. `PublicFetcher`:

1. reads the URL as a browser does (ada, WHATWG): https only, canonical form (every IPv4 shorthand is
   written out as dotted quad by the parser, so it is judged as the address it is), no userinfo;
2. resolves the host itself (the resolver is injectable: tests map names to loopback) and refuses
   unless *every* address is public: not loopback, private, link-local, CGNAT, multicast, reserved,
   unspecified, documentation, nor an IPv4 address embedded in IPv6 (mapped, 6to4, Teredo, NAT64)
   that is one of those;
3. connects to the checked address only — the request goes to the IP with the name as Host and TLS
   server name (certificate checked against the name), so nothing resolves the name a second time;
4. follows no redirect, reads at most `max_bytes`, and gives up after `timeout` seconds in all.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence

import httpx
from ada_url import URL

type Address = ipaddress.IPv4Address | ipaddress.IPv6Address
type Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class FetchRefused(Exception):
    """The URL or where it leads is not fetched; the message says why (for logs, not for the caller)."""


async def system_resolver(host: str, port: int) -> Sequence[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def public_address(address: Address) -> bool:
    """True only for a globally routable unicast address, whatever IPv4 address it may embed."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not public_address(embedded):
            return False
    return address.is_global and not address.is_multicast and not address.is_reserved


class PublicFetcher:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        resolver: Resolver = system_resolver,
        is_public: Callable[[Address], bool] = public_address,
        timeout: float = 5.0,
        max_bytes: int = 64 * 1024,
    ) -> None:
        self._http = http
        self._resolve = resolver
        self._is_public = is_public
        self._timeout = timeout
        self._max = max_bytes

    async def get(self, url: str) -> bytes:
        """The body of a 200 answer from `url`, or FetchRefused."""
        try:
            async with asyncio.timeout(self._timeout):
                return await self._get(url)
        except TimeoutError:
            raise FetchRefused(f"no answer within {self._timeout} s") from None
        except httpx.HTTPError as failed:
            raise FetchRefused(f"fetch failed: {type(failed).__name__}") from None

    async def _get(self, url: str) -> bytes:
        host, port, target = _parse(url)
        address = await self._checked_address(host, port)
        literal = f"[{address}]" if address.version == 6 else str(address)
        request = self._http.build_request(
            "GET",
            f"https://{literal}:{port}{target}",
            headers={"Host": host if port == 443 else f"{host}:{port}", "Accept": "application/json"},
            extensions={"sni_hostname": host, "timeout": httpx.Timeout(self._timeout).as_dict()},
        )
        response = await self._http.send(request, stream=True, follow_redirects=False)
        try:
            if response.status_code != 200:
                raise FetchRefused(f"answered HTTP {response.status_code} (redirects are not followed)")
            body = bytearray()
            async for chunk in response.aiter_bytes():  # decoded: a compressed bomb is bounded too
                body += chunk
                if len(body) > self._max:
                    raise FetchRefused(f"larger than {self._max} bytes")
            return bytes(body)
        finally:
            await response.aclose()

    async def _checked_address(self, host: str, port: int) -> Address:
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            candidates = [literal]
        else:
            try:
                resolved = await self._resolve(host, port)
            except OSError as failed:
                raise FetchRefused(f"{host} does not resolve ({failed.strerror or failed})") from None
            candidates = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolved]
        if not candidates:
            raise FetchRefused(f"{host} resolves to no address")
        refused = [str(a) for a in candidates if not self._is_public(a)]
        if refused:
            raise FetchRefused(f"{host} resolves to a non-public address ({', '.join(refused)})")
        return candidates[0]


def _parse(url: str) -> tuple[str, int, str]:
    """(host, port, path and query) of a canonical https URL with a path, or FetchRefused."""
    try:
        parsed = URL(url)
    except ValueError:
        raise FetchRefused("not a URL") from None
    if parsed.href != url or not url.isascii() or "\\" in url:
        raise FetchRefused("not in canonical form")
    if parsed.protocol != "https:" or parsed.username or parsed.password or parsed.hash:
        raise FetchRefused("only https URLs without user information or fragment")
    if parsed.pathname in ("", "/"):
        raise FetchRefused("the URL needs a path")
    port = int(parsed.port or 443)
    return parsed.hostname, port, parsed.pathname + parsed.search
