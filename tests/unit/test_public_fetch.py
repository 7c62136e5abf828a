"""Client ID metadata documents are fetched only from public addresses, and only from the address checked.

Each hostile form is tried against a real listener on loopback: the fetch must be refused before
any connection, so the listener accepts nothing. DNS names go through an injected resolver that
points them at loopback, private and metadata addresses.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator

import anyio
import httpx
import pytest

from shared.identity.public_fetch import FetchRefused, PublicFetcher, public_address

pytestmark = pytest.mark.anyio


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.02)
        self.port = self._socket.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    started = Listener()
    yield started
    started.close()


NAMES = {
    "loopback.test": ["127.0.0.1"],
    "mixed.test": ["93.184.215.14", "127.0.0.1"],  # one public address is not enough: all must be
    "private.test": ["10.1.2.3"],
    "metadata.test": ["169.254.169.254"],
    "cgnat.test": ["100.64.0.1"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "v6-loopback.test": ["::1"],
    "unique-local.test": ["fd00::1"],
    "link-local-v6.test": ["fe80::1%2"],
    "nothing.test": [],
}


async def _resolver(host: str, port: int) -> list[str]:
    if host not in NAMES:
        raise socket.gaierror(socket.EAI_NONAME, "unknown name")
    return NAMES[host]


# Every way to write loopback, private and metadata addresses that a parser or getaddrinfo accepts.
LITERALS = [
    "https://127.0.0.1:{port}/m.json",
    "https://127.1:{port}/m.json",
    "https://127.0.1:{port}/m.json",
    "https://0x7f.1:{port}/m.json",
    "https://0x7f000001:{port}/m.json",
    "https://0177.0.0.1:{port}/m.json",
    "https://2130706433:{port}/m.json",
    "https://017700000001:{port}/m.json",
    "https://0:{port}/m.json",
    "https://0.0.0.0:{port}/m.json",
    "https://[::1]:{port}/m.json",
    "https://[::ffff:127.0.0.1]:{port}/m.json",
    "https://[::ffff:7f00:1]:{port}/m.json",
    "https://[::127.0.0.1]:{port}/m.json",
    "https://[2002:7f00:1::]:{port}/m.json",
    "https://[64:ff9b::7f00:1]:{port}/m.json",
    "https://localhost:{port}/m.json",
    "https://LOCALHOST:{port}/m.json",
    "https://127.0.0.1.:{port}/m.json",
    "https://%31%32%37.0.0.1:{port}/m.json",
    "https://169.254.169.254/m.json",
    "https://169.254.43518/m.json",
    "https://0xa9fea9fe/m.json",
    "https://10.0.0.1/m.json",
    "https://172.16.0.1/m.json",
    "https://192.168.1.1/m.json",
    "https://100.64.0.1/m.json",
    "https://224.0.0.1/m.json",
    "https://240.0.0.1/m.json",
    "https://[fe80::1]/m.json",
    "https://[fc00::1]/m.json",
    "https://user@93.184.215.14/m.json",
    "http://93.184.215.14/m.json",
    "https://93.184.215.14/",
    "https://93.184.215.14\\@127.0.0.1:{port}/m.json",
]


def _fetcher(seen: list[httpx.Request] | None = None) -> PublicFetcher:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(200, content=b"{}")

    # The real transport: a refused URL must not even reach it (the listener would see a connection).
    http = httpx.AsyncClient() if seen is None else httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return PublicFetcher(http, resolver=_resolver, timeout=2.0)


@pytest.mark.parametrize("template", LITERALS)
async def test_internal_address_forms_are_refused_before_any_connection(listener: Listener, template: str) -> None:
    fetcher = _fetcher()
    with pytest.raises(FetchRefused):
        await fetcher.get(template.format(port=listener.port))
    assert listener.accepted == 0


@pytest.mark.parametrize("name", [*sorted(NAMES), "unknown.test"])
async def test_names_resolving_inside_are_refused_before_any_connection(listener: Listener, name: str) -> None:
    with pytest.raises(FetchRefused):
        await _fetcher().get(f"https://{name}:{listener.port}/m.json")
    assert listener.accepted == 0


async def test_the_request_goes_to_the_checked_address_with_the_name_as_host_and_tls_name() -> None:
    seen: list[httpx.Request] = []

    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.215.14"]

    fetcher = PublicFetcher(
        httpx.AsyncClient(
            transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, content=b"{}"))
        ),
        resolver=resolver,
    )
    assert await fetcher.get("https://client.example/m.json?v=1") == b"{}"
    (request,) = seen
    assert str(request.url) == "https://93.184.215.14/m.json?v=1"
    assert request.headers["host"] == "client.example"
    assert request.extensions["sni_hostname"] == "client.example"


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [(302, {"Location": "https://127.0.0.1/m.json"}, b""), (500, {}, b"{}"), (200, {}, b"x" * (64 * 1024 + 1))],
    ids=["redirect", "error", "too-large"],
)
async def test_redirects_errors_and_oversized_documents_are_refused(
    status: int, headers: dict[str, str], body: bytes
) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.215.14"]

    answers: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        answers.append(request)
        return httpx.Response(status, headers=headers, content=body)

    fetcher = PublicFetcher(httpx.AsyncClient(transport=httpx.MockTransport(handler)), resolver=resolver)
    with pytest.raises(FetchRefused):
        await fetcher.get("https://client.example/m.json")
    assert len(answers) == 1  # the redirect was not followed


async def test_a_resolver_that_never_answers_is_given_up_on() -> None:

    async def stuck(host: str, port: int) -> list[str]:
        await anyio.sleep_forever()
        return []

    fetcher = PublicFetcher(httpx.AsyncClient(), resolver=stuck, timeout=0.2)
    with pytest.raises(FetchRefused, match="no answer"):
        await fetcher.get("https://client.example/m.json")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("0.0.0.0", False),
        ("192.0.2.1", False),
        ("::ffff:10.0.0.1", False),
        ("2002:a00:1::", False),
        ("64:ff9b::a9fe:a9fe", False),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo: client 127.0.0.1
        ("ff02::1", False),
    ],
)
def test_public_address_judges_every_embedded_ipv4_too(address: str, public: bool) -> None:
    assert public_address(ipaddress.ip_address(address)) is public
