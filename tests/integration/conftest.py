"""In-process fixtures: the Function App under the local host, without a socket."""

from __future__ import annotations

import pytest

from infra.funchost.host import LocalFunctionsHost


@pytest.fixture(scope="session")
def functions_host() -> LocalFunctionsHost:
    """`function_app.app` behind the local host, timers not scheduled (tests fire them).

    Once per test run: the app indexes its functions once per process."""
    import function_app

    return LocalFunctionsHost(function_app.app, timers_enabled=False)
