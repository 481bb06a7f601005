"""The outermost middleware: request id, response headers, last-resort errors.

Three jobs every response needs (and hooks for the metrics and load shedding),
done in one layer because each layer costs a call and a ``send`` wrapper on
every request (see ``docs/middleware.md``):

* the request id: taken from ``X-Request-ID`` when well formed, made otherwise,
  put in the context (and so in every log line) and echoed in the response;
* the security headers, appended once at ``http.response.start`` — a header the
  route set itself is left alone;
* an exception no handler took becomes a 500 problem that names only the
  request id, and is logged with its traceback.

It also counts the requests in progress: over a :class:`Shedder`'s limit, the
shedder may refuse the request before the app sees it.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any, Protocol

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.core.context import request_id_var
from bastion.core.errors import BastionError, InternalError
from bastion.core.middleware.problem import send_problem
from bastion.core.middleware.security_headers import Headers

log = structlog.get_logger("bastion.errors")
# Ids from clients end up in logs: accept only short, plain tokens.
_VALID_ID = re.compile(rb"\A[A-Za-z0-9._:\-]{1,128}\Z")


RESPONSE_HEADERS_KEY = "bastion.response_headers"


def add_response_headers(scope: Scope, headers: Headers) -> None:
    """Have ``headers`` added to this request's response, whatever the route returns.

    For middleware and dependencies that learn something the client should see
    (rate limit state, ...) before the response exists.
    """
    scope.setdefault("state", {}).setdefault(RESPONSE_HEADERS_KEY, []).extend(headers)


def _missing(extra: Headers, own: Headers) -> Headers:
    """The headers of ``extra`` the response lacks; ``Vary`` values are merged, not replaced."""
    names = {name for name, _ in own}
    varies = b",".join(value for name, value in own if name == b"vary").lower()
    return [
        (name, value)
        for name, value in extra
        if name not in names or (name == b"vary" and value.lower() not in varies)
    ]


class RequestObserver(Protocol):
    """Sees every HTTP request from outside the whole stack (metrics, traces).

    ``begin`` runs before anything else and returns what ``end`` gets back with
    the status the client received (500 when the app sent nothing).
    """

    def begin(self, scope: Scope) -> Any: ...

    def end(self, token: Any, status: int) -> None: ...


class Shedder(Protocol):
    """Load shedding: asked about each request that arrives with ``limit`` in progress."""

    limit: int

    def refusal(self, scope: Scope) -> BastionError | None:
        """The error to answer with, or None to let the request in."""
        ...


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        headers: Headers,
        type_base: str,
        request_id_header: str = "X-Request-ID",
        path_headers: dict[str, Headers] | None = None,
        observer: RequestObserver | None = None,
        shedder: Shedder | None = None,
    ) -> None:
        """``path_headers`` replaces ``headers`` on exact paths (the docs pages' CSP)."""
        self.app = app
        self.observer = observer
        self.shedder = shedder
        self.limit = shedder.limit if shedder is not None else sys.maxsize
        self.in_flight = 0  # HTTP requests in progress in this process
        self.headers = headers
        self.path_headers = path_headers or {}
        self.type_base = type_base
        self.id_header = request_id_header.lower().encode("latin-1")
        self._names = frozenset(name for name, _ in headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        observer = self.observer
        observed = observer.begin(scope) if observer is not None else None
        status = 500  # what the server answers when the app sends nothing
        raw_id = None
        for name, value in scope["headers"]:
            if name == self.id_header:
                raw_id = value if _VALID_ID.match(value) else None
                break
        if raw_id is None:
            raw_id = os.urandom(16).hex().encode()
        extra = [(self.id_header, raw_id), *self.path_headers.get(scope["path"], self.headers)]
        # Shared with everything inside: Starlette's request.state is this dict.
        state = scope.setdefault("state", {})
        names = self._names
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                own = message.get("headers", [])
                added = state.get(RESPONSE_HEADERS_KEY)
                if added:
                    own = [*own, *added]
                for name, _ in own:
                    if name in names:  # the route set one of ours: keep its value
                        message["headers"] = [*own, *_missing(extra, own)]
                        break
                else:
                    message["headers"] = [*own, *extra]
            await send(message)

        token = request_id_var.set(raw_id.decode("latin-1"))
        self.in_flight += 1
        try:
            if self.in_flight > self.limit and self.shedder is not None:
                refusal = self.shedder.refusal(scope)
                if refusal is not None:
                    await send_problem(send_with_headers, scope, refusal, type_base=self.type_base)
                    return
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            log.exception(
                "request.unhandled_error",
                method=scope.get("method"),
                path=scope.get("path"),
                error_type=type(exc).__name__,
            )
            if started:
                # Headers are gone; all that is left is to let the server drop the connection.
                raise
            error = InternalError(
                "An unexpected error occurred. Quote the request id when reporting it."
            )
            await send_problem(send_with_headers, scope, error, type_base=self.type_base)
        finally:
            self.in_flight -= 1
            request_id_var.reset(token)
            if observer is not None:
                observer.end(observed, status)
