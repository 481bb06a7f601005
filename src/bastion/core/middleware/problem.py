"""Problem responses sent straight from ASGI middleware, and the last-resort handler."""

from __future__ import annotations

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.core.errors import BastionError, InternalError
from bastion.core.problems import PROBLEM_JSON, problem_body

log = structlog.get_logger("bastion.errors")


async def send_problem(send: Send, scope: Scope, error: BastionError, *, type_base: str) -> None:
    """Send ``error`` as a complete problem+json response."""
    body = problem_body(
        type_base=type_base,
        code=error.code,
        status=error.status,
        title=error.title,
        detail=error.detail,
        instance=scope.get("path"),
        errors=error.errors,
        extensions=error.extensions,
    )
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items()),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class UnhandledErrorMiddleware:
    """Turns an exception no handler took into a 500 problem, logged with the request id.

    It sits inside the request-id and security-header middleware so that the 500
    carries both; the body names only the request id, never the exception.
    """

    def __init__(self, app: ASGIApp, *, type_base: str) -> None:
        self.app = app
        self.type_base = type_base

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
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
            await send_problem(send, scope, error, type_base=self.type_base)
