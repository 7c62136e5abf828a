"""Who sets telemetry up: the Functions worker (then the hub must not configure it again), the hub
itself when only a connection string is given, or nobody; and logs lose anything token-like."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from shared.logs import SecretFilter

# An Application Insights connection string that points at a closed loopback port: nothing leaves.
CONNECTION = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"
PROBE = """
import json, os, sys
from opentelemetry import trace
from functions._telemetry import configure_telemetry
mode = configure_telemetry(json.loads(sys.argv[1]))
print(mode, type(trace.get_tracer_provider()).__name__)
"""


def configured(environ: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(environ)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "off ProxyTracerProvider"),
        (
            {
                "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "true",
                "APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION,
            },
            "functions-worker ProxyTracerProvider",
        ),
        ({"APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION}, "azure-monitor TracerProvider"),
    ],
)
def test_the_hub_configures_azure_monitor_only_when_the_worker_does_not(environ: dict[str, str], expected: str) -> None:
    assert configured(environ) == expected


def test_a_token_in_a_log_message_is_redacted_whatever_logged_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.handler.addFilter(SecretFilter())
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").info("request failed: Authorization: Bearer %s", jwt)
    assert jwt not in caplog.text
    assert "[redacted]" in caplog.text
