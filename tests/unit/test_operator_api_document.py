"""The operator API document: a valid OpenAPI 3.1 document that lists exactly the routes the app
registers under ops/, routing, oauth/ and .well-known/, and the models the answers go through
refuse what the document does not say."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from pydantic import ValidationError

from shared.audit.api import FILTERS, MAX_PAGE, AuditQuery, BadQuery
from shared.operator_api import QueryRefused, answer, models, parse_query
from shared.operator_api.document import OPERATIONS, Security, document
from tests.operator_api import check_answer, validate_document

ROOT = Path(__file__).resolve().parents[2]
SECURITY = Security("https://hub.example/oauth/authorize", "https://hub.example/oauth/token", "MCP.Access")
_DOCUMENTED = re.compile(r"^(ops/|routing$|oauth/|\.well-known/)")


def registered_routes() -> set[tuple[str, str]]:
    """(method, /path) of every HTTP function function_app.py registers, in a fresh interpreter."""
    script = (
        "import json, function_app; from infra.funchost.host import discover; "
        "print(json.dumps([[f.route.template, sorted(f.methods or [])] for f in discover(function_app.app, '')[0]]))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    routes = json.loads(done.stdout.splitlines()[-1])
    return {(method.lower(), "/" + template) for template, methods in routes for method in methods}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return document("https://hub.example", SECURITY, facade=True)


@pytest.mark.parametrize("facade", [True, False])
def test_the_document_is_valid_openapi_3_1_with_and_without_the_facade(facade: bool) -> None:
    body = document("https://hub.example", SECURITY, facade=facade)
    validate_document(body)
    assert body["openapi"] == "3.1.0"
    assert ("/oauth/token" in body["paths"]) is facade
    assert "/ops/usage" in body["paths"]


def test_a_broken_document_is_caught_by_the_validator(doc: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(doc))
    broken["paths"]["/ops/usage"]["get"]["responses"]["200"].pop("description")
    with pytest.raises(OpenAPIValidationError):
        validate_document(broken)


def test_every_registered_operator_and_oauth_route_is_in_the_document_and_nothing_else(doc: dict[str, Any]) -> None:
    registered = {(m, p) for m, p in registered_routes() if _DOCUMENTED.match(p[1:])}
    documented = {(method, path) for path, item in doc["paths"].items() for method in item}
    assert registered == documented
    assert ("get", "/ops/openapi.json") in registered


def test_operator_routes_need_the_hubs_token_and_name_their_roles(doc: dict[str, Any]) -> None:
    for path, item in doc["paths"].items():
        operation = item["get"] if "get" in item else item["post"]
        if path.startswith("/ops/") or path == "/routing":
            assert operation["security"] == [{"oauth2": ["MCP.Access"]}, {"bearer": []}], path
            assert set(operation["x-required-roles"]) <= {"Hub.Admin", "Hub.Operator"}, path
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"], path
            assert set(operation["responses"]) >= {"200", "401", "404"}, path
        else:
            assert operation["security"] == [], path
    assert doc["paths"]["/ops/audit"]["get"]["x-required-roles"] == ["Hub.Admin"]
    flow = doc["components"]["securitySchemes"]["oauth2"]["flows"]["authorizationCode"]
    assert flow["tokenUrl"] == "https://hub.example/oauth/token"


def test_the_audit_parameters_documented_are_those_the_parser_takes(doc: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in doc["paths"]["/ops/audit"]["get"]["parameters"]}
    assert set(parameters) == {*FILTERS, "from", "to", "limit", "cursor"}
    assert parameters["limit"]["schema"]["maximum"] == MAX_PAGE
    export = {p["name"] for p in doc["paths"]["/ops/audit/export"]["get"]["parameters"]}
    AuditQuery.parse(dict.fromkeys(export - {"from", "to", "limit", "cursor"}, "x"), now=0.0)  # all known
    with pytest.raises(BadQuery, match="unknown parameter"):
        AuditQuery.parse({"since": "x"}, now=0.0)


def test_an_answer_with_a_field_the_model_does_not_declare_is_refused() -> None:
    body = {"error": "x", "extra": 1}
    with pytest.raises(ValidationError, match="extra"):
        answer(models.BadRequest, body)


def test_answers_keep_the_wire_names_and_leave_out_what_the_handler_left_out() -> None:
    forecast = {"region": "westeurope", "ready": False, "historyDays": 2, "neededDays": 7}
    assert answer(models.Forecast, forecast) == forecast
    period = {"from": "2026-12-01T00:00:00Z", "to": "2026-12-02T00:00:00Z"}
    assert answer(models.Advice, {"period": period, "advice": []}) == {"period": period, "advice": []}


def test_an_answer_is_checked_against_the_document_as_well(doc: dict[str, Any]) -> None:
    check_answer(doc, "GET", "/ops/usage", 400, {"error": "'from' is after 'to'"})
    check_answer(
        doc, "GET", "/ops/usage", 404, {"jsonrpc": "2.0", "id": None, "error": {"code": -32001, "message": "x"}}
    )
    with pytest.raises(jsonschema.ValidationError, match="'message' was unexpected"):
        check_answer(doc, "GET", "/ops/usage", 400, {"message": "x"})
    with pytest.raises(AssertionError, match="does not list"):
        check_answer(doc, "GET", "/ops/usage", 418, {})


def test_every_operation_has_a_unique_id() -> None:
    ids = [o.operation_id for o in OPERATIONS]
    assert len(ids) == len(set(ids))


def test_query_parameters_are_parsed_by_the_published_models_with_errors_naming_the_parameter() -> None:
    asked = parse_query(models.RecommendParams, {"need": "  bugs in Jira ", "k": "3"})
    assert (asked.need, asked.k) == ("bugs in Jira", 3)
    with pytest.raises(QueryRefused, match=r"^'k': input should be less than or equal to 20 \(how many"):
        parse_query(models.RecommendParams, {"need": "x", "k": "21"})
    with pytest.raises(QueryRefused, match=r"^'need': field required \(what the team needs"):
        parse_query(models.RecommendParams, {})
    with pytest.raises(QueryRefused, match=r"^'goal': string should have at least 1 character"):
        parse_query(models.WorkflowParams, {"goal": "   "})
    with pytest.raises(QueryRefused, match=r"^'region': string should match pattern"):
        parse_query(models.ForecastParams, {"region": "west europe"})
    with pytest.raises(QueryRefused, match=r"^'since': extra inputs are not permitted"):
        parse_query(models.ForecastParams, {"since": "x"})
