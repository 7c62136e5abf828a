"""The operator API as a published contract: models for every answer, and the OpenAPI document
generated from them (`document.py`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def answer[T: BaseModel](model: type[T], body: Any) -> dict[str, Any]:
    """`body` checked against its published model, as the JSON it goes out as.

    A field the model does not declare, or one of the wrong type, raises here (a bug: the tests call
    every route), rather than reaching a client the document told otherwise. Fields the handler left
    out stay out (`exclude_unset`), so optional members are absent rather than null."""
    return model.model_validate(body).model_dump(mode="json", by_alias=True, exclude_unset=True)
