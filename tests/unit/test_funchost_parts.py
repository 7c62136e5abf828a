from __future__ import annotations

import datetime as dt
import subprocess
import sys

import azure.functions as func
import pytest

from infra.funchost.host import AmbiguousRoutes, discover
from infra.funchost.ncrontab import Schedule
from infra.funchost.routes import RouteTemplate, ambiguities, overlap
from infra.processes import ROOT


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


@pytest.mark.parametrize(
    ("first", "second", "path"),
    [
        ("connect/callback", "connect/{server}", "/connect/callback"),
        ("a/{id:int}", "a/new", None),
        ("a/{id:int}", "a/42", "/a/42"),
        ("files/{*rest}", "files/x/y", "/files/x/y"),
        ("a/{name?}", "a", "/a"),
        ("mcp", "mcp/{server}", None),
        ("connect/{server}/signed-in", "connect/{server}", None),
        ("{first}/b", "a/{second}", "/a/b"),
    ],
)
def test_overlap_finds_a_path_two_routes_both_match(first: str, second: str, path: str | None) -> None:
    assert overlap(first, second) == path
    assert overlap(second, first) == path


def test_routes_that_share_no_method_do_not_clash() -> None:
    routes = [("a", "x/callback", frozenset({"GET"})), ("b", "x/{server}", frozenset({"POST"}))]
    assert ambiguities(routes) == []
    assert ambiguities([*routes, ("c", "x/{other}", None)]) != []


def test_local_host_refuses_an_app_whose_routes_one_request_could_reach_either_way() -> None:
    app = func.FunctionApp()

    @app.route(route="x/{server}", methods=["GET"])
    def page(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("page")

    @app.route(route="x/callback", methods=["GET"])
    def callback(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("callback")

    with pytest.raises(AmbiguousRoutes, match=r"'x/\{server\}'.*'x/callback'.*/x/callback for GET"):
        discover(app, "")


def test_the_hubs_routes_are_unambiguous_whatever_order_a_host_tries_them_in() -> None:
    # In a fresh interpreter: a FunctionApp registers its blueprints again on every get_functions().
    script = (
        "import function_app; from infra.funchost.host import discover; print(len(discover(function_app.app, '')[0]))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) > 30
