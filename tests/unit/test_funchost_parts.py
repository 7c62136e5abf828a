from __future__ import annotations

import datetime as dt

import pytest

from infra.funchost.ncrontab import Schedule
from infra.funchost.routes import RouteTemplate


def test_route_parameters_are_extracted() -> None:
    route = RouteTemplate.compile("", "mcp/{server}")
    assert route.match("/mcp/notes") == {"server": "notes"}
    assert route.match("/mcp/notes/") == {"server": "notes"}
    assert route.match("/mcp") is None
    assert route.match("/mcp/a/b") is None


def test_route_prefix_constraints_optional_and_catch_all_segments() -> None:
    assert RouteTemplate.compile("api", "items/{id:int}").match("/api/items/12") == {"id": "12"}
    assert RouteTemplate.compile("api", "items/{id:int}").match("/api/items/x") is None
    optional = RouteTemplate.compile("", "files/{name?}")
    assert optional.match("/files") == {}
    assert optional.match("/files/a") == {"name": "a"}
    assert RouteTemplate.compile("", "static/{*path}").match("/static/a/b.css") == {"path": "a/b.css"}


def test_routes_match_case_insensitively_like_the_real_host() -> None:
    assert RouteTemplate.compile("", "health").match("/HEALTH") == {}


def test_ncrontab_every_five_minutes() -> None:
    schedule = Schedule.parse("0 */5 * * * *")
    start = dt.datetime(2026, 1, 1, 10, 2, 30)  # noqa: DTZ001 - schedules are evaluated in naive UTC
    assert schedule.next_after(start) == dt.datetime(2026, 1, 1, 10, 5, 0)  # noqa: DTZ001


def test_ncrontab_weekday_names_and_sunday_as_seven() -> None:
    monday_nine = Schedule.parse("0 0 9 * * mon")
    saturday = dt.datetime(2026, 11, 28, 12, 0, 0)  # noqa: DTZ001
    assert monday_nine.next_after(saturday) == dt.datetime(2026, 11, 30, 9, 0, 0)  # noqa: DTZ001
    assert Schedule.parse("0 0 0 * * 7").weekdays == frozenset({0})


@pytest.mark.parametrize("bad", ["* * * * *", "61 * * * * *", "*/0 * * * * *"])
def test_bad_schedules_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        Schedule.parse(bad)
