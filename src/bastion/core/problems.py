"""RFC 9457 problem details: rendering and the app's exception handlers."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from bastion.core.context import current_request_id
from bastion.core.errors import BastionError, ValidationFailed, http_code

PROBLEM_JSON = "application/problem+json"
# JSON Schema of a problem document, for OpenAPI responses.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri-reference"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {"type": "string"},
        "request_id": {"type": "string"},
    },
}
log = structlog.get_logger("bastion.errors")


def problem_body(
    *,
    type_base: str,
    code: str,
    status: int,
    title: str,
    detail: str | None = None,
    instance: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> bytes:
    """Serialise one problem document; ``instance`` defaults to the request path."""
    body: dict[str, Any] = {
        "type": f"{type_base}{code}",
        "title": title,
        "status": status,
        "detail": detail if detail is not None else title,
        "instance": instance,
        "code": code,
    }
    request_id = current_request_id()
    if request_id is not None:
        body["request_id"] = request_id
    if errors is not None:
        body["errors"] = list(errors)
    if extensions:
        body.update({k: v for k, v in extensions.items() if k not in body})
    return json.dumps(body, separators=(",", ":"), default=str).encode()


def problem_response(
    error: BastionError, *, type_base: str, instance: str | None, status: int | None = None
) -> Response:
    """A problem+json response for a Bastion error."""
    status = status or error.status
    body = problem_body(
        type_base=type_base,
        code=error.code,
        status=status,
        title=error.title,
        detail=error.detail,
        instance=instance,
        errors=error.errors,
        extensions=error.extensions,
    )
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=error.headers)


def validation_errors(raw: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI/pydantic error dicts as ``{location, message, type}`` items."""
    return [
        {"location": list(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type")}
        for e in raw
    ]


def install_problem_handlers(app: FastAPI, *, type_base: str) -> None:
    """Render Bastion errors, HTTP exceptions and validation errors as problems."""

    async def on_bastion_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BastionError)
        if exc.status >= 500:
            log.error("request.failed", event_code=exc.code, detail=exc.detail, exc_info=exc)
        return problem_response(exc, type_base=type_base, instance=request.url.path)

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if isinstance(exc.__cause__, BastionError):
            # FastAPI wraps errors raised while reading the body (413 from the
            # size limit) in a 400; the original says what went wrong.
            return await on_bastion_error(request, exc.__cause__)
        entry = http_code(exc.status_code)
        headers = dict(exc.headers or {})
        if exc.status_code in (204, 304):
            return Response(status_code=exc.status_code, headers=headers)
        body = problem_body(
            type_base=type_base,
            code=entry.code,
            status=exc.status_code,
            title=entry.title if entry.status == exc.status_code else _reason(exc.status_code),
            detail=exc.detail if isinstance(exc.detail, str) else None,
            instance=request.url.path,
        )
        return Response(body, exc.status_code, headers=headers, media_type=PROBLEM_JSON)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        error = ValidationFailed(
            "The request has invalid fields; see 'errors'.",
            errors=validation_errors(exc.errors()),
        )
        return problem_response(error, type_base=type_base, instance=request.url.path)

    app.add_exception_handler(BastionError, on_bastion_error)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(RequestValidationError, on_validation_error)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "HTTP error"


_VALIDATION_PROBLEM: dict[str, Any] = {
    "description": "Validation failed (problem+json `request.validation_failed`).",
    "content": {
        PROBLEM_JSON: {
            "schema": {
                **PROBLEM_SCHEMA,
                "title": "ValidationProblem",
                "properties": {
                    **PROBLEM_SCHEMA["properties"],
                    "errors": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "location": {"type": "array", "items": {}},
                                "message": {"type": "string"},
                                "type": {"type": "string"},
                            },
                        },
                    },
                },
            }
        }
    },
}


def document_problems(app: FastAPI) -> None:
    """Make the OpenAPI document say what 422 answers really are: problem+json."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
                if "422" in responses:
                    responses["422"] = _VALIDATION_PROBLEM
        components = schema.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def problem_responses(*errors: type[BastionError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the errors a route may answer, grouped by status.

    >>> from bastion.core.errors import InvalidCursor
    >>> problem_responses(InvalidCursor)[400]["description"]
    'Bad Request: `request.invalid_cursor` (problem+json)'
    """
    codes: dict[int, list[str]] = {}
    for error in errors:
        codes.setdefault(error.status, []).append(error.code)
    return {
        status: {
            "description": f"{_reason(status)}: "
            + ", ".join(f"`{code}`" for code in sorted(names))
            + " (problem+json)",
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
        for status, names in sorted(codes.items())
    }
