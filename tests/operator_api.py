"""Checks against the published operator API document (`/ops/openapi.json`) with the maintained
OpenAPI validators: the document itself (openapi-spec-validator) and answers against its schemas
(openapi-schema-validator, the OpenAPI 3.1 dialect of JSON Schema 2020-12)."""

from __future__ import annotations

from typing import Any

from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_document
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["check_answer", "validate_document"]
_URI = "urn:mcphub:openapi"


def check_answer(doc: dict[str, Any], method: str, path: str, status: int, body: Any, media: str = "") -> None:
    """Raise unless `body` is what the document says `method path` answers with `status`."""
    operation = doc["paths"][path][method.lower()]
    reply = operation["responses"].get(str(status))
    assert reply is not None, f"{method} {path} answered {status}, which the document does not list"
    content: dict[str, Any] = reply.get("content", {})
    assert content, f"{method} {path} {status} has a body the document does not describe"
    schema = content[media]["schema"] if media else next(iter(content.values()))["schema"]
    registry: Registry[Any] = Registry().with_resource(_URI, Resource.from_contents(doc, DRAFT202012))
    anchored = {"$ref": f"{_URI}{schema['$ref']}"} if "$ref" in schema else schema
    OAS31Validator(anchored, registry=registry).validate(body)
