"""The local HAProxy's configuration (infra/proxy.py): what the drill and the load test rely on."""

from __future__ import annotations

from infra.proxy import config


def test_event_streams_go_out_without_the_kernels_200_ms_coalescing_delay() -> None:
    lines = [line.strip() for line in config(8000, 8001, {"a": 9000}).splitlines()]
    assert "option http-no-delay" in lines


def test_the_connection_ceiling_is_the_callers_so_open_streams_do_not_starve_calls() -> None:
    lines = [line.strip() for line in config(8000, 8001, {"a": 9000, "b": 9001}, maxconn=3100).splitlines()]
    assert "maxconn 3100" in lines
    assert [line for line in lines if line.startswith("server ")] == [
        "server a 127.0.0.1:9000 check weight 100",
        "server b 127.0.0.1:9001 check weight 100",
    ]
