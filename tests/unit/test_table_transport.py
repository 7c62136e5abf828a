"""The Table clients' transport reads the proxy environment once, not on every request."""

from __future__ import annotations

import pytest
from azure.core.pipeline.transport import AioHttpTransport

from shared.tables import transport_options

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_proxy")
def test_without_a_proxy_the_tables_do_not_ask_the_environment_on_every_request() -> None:
    transport = transport_options()["transport"]
    assert isinstance(transport, AioHttpTransport)
    assert transport._use_env_settings is False


@pytest.mark.usefixtures("no_proxy")
def test_with_a_proxy_configured_the_tables_keep_the_sdks_default_and_use_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.example:3128")
    assert transport_options() == {}


@pytest.mark.usefixtures("no_proxy")
def test_each_table_client_gets_its_own_transport_so_closing_one_closes_no_other() -> None:
    assert transport_options()["transport"] is not transport_options()["transport"]
