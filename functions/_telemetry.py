"""Who exports telemetry: the Functions worker, this app, or nobody (part of the composition root).

- `PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true` (set by bicep/): the Python worker has already
  called `configure_azure_monitor()`; configuring again would export every span twice.
- else `APPLICATIONINSIGHTS_CONNECTION_STRING`: the hub configures azure-monitor-opentelemetry
  itself, once per worker, imported only then (it costs about half a second).
- else nothing is exported; the OpenTelemetry API calls in shared/ are no-ops.
host.json sets `telemetryMode: OpenTelemetry`, so the host's own telemetry uses the same format.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from shared.logs import install_secret_filter

log = logging.getLogger("mcphub")


def configure_telemetry(environ: Mapping[str, str]) -> str:
    """Set telemetry up once; returns who exports ("functions-worker", "azure-monitor" or "off")."""
    if environ.get("PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY", "").strip().lower() == "true":
        mode = "functions-worker"
    elif connection := environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
        from azure.monitor.opentelemetry import configure_azure_monitor

        configure_azure_monitor(
            connection_string=connection,
            logger_name="mcphub",
            # The hub makes its own request spans; the web-framework instrumentations would record
            # URLs with query strings (sign-in codes, connect tickets) as span attributes.
            instrumentation_options={name: {"enabled": False} for name in ("fastapi", "flask", "django")},
        )
        mode = "azure-monitor"
    else:
        mode = "off"
    install_secret_filter()
    log.info("telemetry: %s", mode)
    return mode
