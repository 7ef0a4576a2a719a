"""JSON bodies: a request body read straight into its model, and a model written as the answer."""

from __future__ import annotations

import json
from typing import TypeVar

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.responses import Response


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """Serialize a wire model once, with pydantic's compiled serializer."""
    return Response(model.__pydantic_serializer__.to_json(model), status_code, media_type="application/json")


Model = TypeVar("Model", bound=BaseModel)


async def read_body(request: Request, model: type[Model]) -> Model:
    """Validate the JSON body as ``model``; a 400 names each bad field, as FastAPI's own body parameters do.

    The body is decoded by orjson and validated in Python mode, which is what FastAPI does with the
    standard parser, so the answers are the same. An empty body is a missing one.
    """
    body = await request.body()
    if not body:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        # orjson refuses some JSON the standard parser reads (a lone surrogate, NaN); read it that way,
        # so the model decides, as on a route FastAPI serves.
        try:
            data = json.loads(body)
        except ValueError:
            raise RequestValidationError(
                [{"type": "json_invalid", "loc": ("body",), "msg": "invalid"}]
            ) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        ) from None
