"""The error hierarchy and its registry of stable problem codes.

Every error Bastion raises derives from :class:`BastionError`. A subclass that
sets ``code`` registers it; the code is the stable, documented name clients
match on (``request.validation_failed``), rendered as RFC 9457 problem details::

    BastionError
    ├── ConfigurationError      settings that must not start (never rendered)
    ├── HTTPProblem             a plain HTTP status (404, 405, ...)
    ├── ValidationFailed        422 with the field ``errors``
    ├── BodyTooLarge            413
    ├── BodyTimeout             408
    ├── HeadersTooLarge         431
    ├── InvalidCursor           400
    └── InternalError           500, details never leaked

Features add their own roots (``class AuthError(BastionError)``) and codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

_registry: dict[str, ErrorCode] = {}


@dataclass(frozen=True)
class ErrorCode:
    """A registered problem code: what a client sees and what the docs list."""

    code: str
    status: int
    title: str


def register_code(code: str, status: int, title: str) -> ErrorCode:
    """Register ``code``; registering the same code with another meaning is an error."""
    entry = ErrorCode(code, status, title)
    existing = _registry.get(code)
    if existing is not None and existing != entry:
        raise ValueError(f"problem code {code!r} is already registered as {existing}")
    _registry[code] = entry
    return entry


def registered_codes() -> dict[str, ErrorCode]:
    """Every registered code, sorted by name."""
    return dict(sorted(_registry.items()))


class BastionError(Exception):
    """Base of every Bastion error.

    >>> class ProjectArchived(BastionError):
    ...     code = "taskboard.project_archived"
    ...     status = 409
    ...     title = "Project is archived"
    >>> ProjectArchived("Unarchive it first.").status
    409
    """

    code: ClassVar[str] = "server.internal_error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal server error"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            register_code(cls.code, cls.status, cls.title)

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})
        self.extensions = extensions


register_code(BastionError.code, BastionError.status, BastionError.title)


class ConfigurationError(BastionError):
    """Settings or wiring that must not start; raised at start-up, never rendered."""

    code = "server.misconfigured"
    status = 500
    title = "Server misconfigured"


class InternalError(BastionError):
    """An unhandled exception; the client learns only the request id."""


class ValidationFailed(BastionError):
    code = "request.validation_failed"
    status = 422
    title = "Request validation failed"


class BodyTooLarge(BastionError):
    code = "request.body_too_large"
    status = 413
    title = "Request body too large"


class BodyTimeout(BastionError):
    code = "request.body_timeout"
    status = 408
    title = "Request body timeout"


class HeadersTooLarge(BastionError):
    code = "request.headers_too_large"
    status = 431
    title = "Request headers too large"


class InvalidCursor(BastionError):
    code = "request.invalid_cursor"
    status = 400
    title = "Invalid pagination cursor"


class ServiceUnavailable(BastionError):
    code = "server.unavailable"
    status = 503
    title = "Service unavailable"


# Plain HTTP statuses raised by the router (404, 405) or by ``HTTPException``.
_HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("http.bad_request", "Bad request"),
    401: ("http.unauthorized", "Unauthorized"),
    403: ("http.forbidden", "Forbidden"),
    404: ("http.not_found", "Not found"),
    405: ("http.method_not_allowed", "Method not allowed"),
    406: ("http.not_acceptable", "Not acceptable"),
    409: ("http.conflict", "Conflict"),
    410: ("http.gone", "Gone"),
    415: ("http.unsupported_media_type", "Unsupported media type"),
    429: ("http.too_many_requests", "Too many requests"),
}
for _status, (_code, _title) in _HTTP_CODES.items():
    register_code(_code, _status, _title)
register_code("http.error", 400, "HTTP error")


def http_code(status: int) -> ErrorCode:
    """The registered code for a plain HTTP status (``http.error`` for the rest)."""
    if status in _HTTP_CODES:
        return _registry[_HTTP_CODES[status][0]]
    if status == 500:
        return _registry[BastionError.code]
    if status == 503:
        return _registry[ServiceUnavailable.code]
    return _registry["http.error"]
