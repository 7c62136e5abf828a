"""The operator API as a published contract: models for every answer, and the OpenAPI document
generated from them (`document.py`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError


class QueryRefused(ValueError):
    """A query parameter an endpoint cannot use; the message says which, and why (a 400)."""


def answer[T: BaseModel](model: type[T], body: Any) -> dict[str, Any]:
    """`body` checked against its published model, as the JSON it goes out as.

    A field the model does not declare, or one of the wrong type, raises here (a bug: the tests call
    every route), rather than reaching a client the document told otherwise. Fields the handler left
    out stay out (`exclude_unset`), so optional members are absent rather than null."""
    return model.model_validate(body).model_dump(mode="json", by_alias=True, exclude_unset=True)


def parse_query[T: BaseModel](model: type[T], query: dict[str, str]) -> T:
    """The query as its published model, or QueryRefused saying which parameter is wrong and why."""
    try:
        return model.model_validate(query)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "query"
        reason = first["msg"][0].lower() + first["msg"][1:]
        hint = model.model_fields[name].description if name in model.model_fields else None
        raise QueryRefused(f"'{name}': {reason}" + (f" ({hint})" if hint else "")) from None
