"""Azure Functions entry point (Python v2 model): composition only."""

import azure.functions as func

from functions import (
    audit_http,
    auth_http,
    configure_http,
    connect_http,
    forecast_http,
    health_http,
    health_timer,
    keys_timer,
    mcp_http,
    operator_http,
    pages_http,
    retention_timer,
    retrain_timer,
    routing_http,
    scaling_http,
    scaling_timer,
    sessions_timer,
    usage_http,
)

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(mcp_http.bp)
app.register_functions(auth_http.bp)
app.register_functions(connect_http.bp)
app.register_functions(health_http.bp)
app.register_functions(sessions_timer.bp)
app.register_functions(keys_timer.bp)
app.register_functions(health_timer.bp)
app.register_functions(routing_http.bp)
app.register_functions(audit_http.bp)
app.register_functions(retention_timer.bp)
app.register_functions(retrain_timer.bp)
app.register_functions(usage_http.bp)
app.register_functions(operator_http.bp)
app.register_functions(pages_http.bp)
app.register_functions(forecast_http.bp)
app.register_functions(configure_http.bp)
app.register_functions(scaling_http.bp)
app.register_functions(scaling_timer.bp)
