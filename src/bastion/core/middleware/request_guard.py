"""Request guards, applied before anything parses the request.

* too many headers, or too many header bytes: 431 ``request.headers_too_large``;
* a body over the limit: 413 ``request.body_too_large`` — at once when
  ``Content-Length`` says so, else while streaming (chunked bodies, lying clients);
* a body that takes too long to arrive (slow-loris uploads): 408 ``request.body_timeout``.

A route can raise or lower its body limit and timeout with :func:`request_limits`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.core.errors import BodyTimeout, BodyTooLarge, HeadersTooLarge
from bastion.core.middleware.problem import send_problem
from bastion.core.routes import RouteIndex

F = TypeVar("F", bound=Callable[..., Any])
_LIMITS_ATTRIBUTE = "__bastion_request_limits__"


def request_limits(
    *, max_body_bytes: int | None = None, body_timeout: float | None = None
) -> Callable[[F], F]:
    """Give one route its own body size limit and/or body read timeout.

    >>> from fastapi import APIRouter
    >>> router = APIRouter()
    >>> @router.post("/uploads")
    ... @request_limits(max_body_bytes=50_000_000, body_timeout=120)
    ... async def upload() -> None: ...
    """
    if max_body_bytes is not None and max_body_bytes <= 0:
        raise ValueError("max_body_bytes must be positive")
    if body_timeout is not None and body_timeout <= 0:
        raise ValueError("body_timeout must be positive")

    def mark(endpoint: F) -> F:
        setattr(endpoint, _LIMITS_ATTRIBUTE, (max_body_bytes, body_timeout))
        return endpoint

    return mark


class RequestGuardMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        body_timeout: float,
        max_headers: int,
        max_header_bytes: int,
        routes: RouteIndex,
        type_base: str,
    ) -> None:
        if max_body_bytes <= 0 or body_timeout <= 0 or max_headers <= 0 or max_header_bytes <= 0:
            raise ValueError("request guard limits must be positive")
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.max_headers = max_headers
        self.max_header_bytes = max_header_bytes
        self.routes = routes
        self.type_base = type_base
        self._route_limits: dict[int, tuple[int, float]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        max_bytes, timeout = self._limits_for(scope)
        size = 0
        declared = None
        for name, value in headers:
            size += len(name) + len(value)
            if name == b"content-length":
                declared = value
        if len(headers) > self.max_headers or size > self.max_header_bytes:
            error = HeadersTooLarge(
                f"At most {self.max_headers} headers and {self.max_header_bytes} bytes of them."
            )
            await send_problem(send, scope, error, type_base=self.type_base)
            return
        # The server has already refused a malformed Content-Length.
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await send_problem(send, scope, _too_large(max_bytes), type_base=self.type_base)
            return
        received = 0
        deadline: float | None = None
        body_done = False

        async def guarded_receive() -> Message:
            nonlocal received, deadline, body_done
            if body_done:
                # Only the wait for a disconnect is left: streams may last for hours.
                return await receive()
            if deadline is None:
                deadline = time.monotonic() + timeout
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(
                    f"The request body did not arrive within {timeout:g} s."
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _too_large(max_bytes)
                body_done = not message.get("more_body", False)
            return message

        await self.app(scope, guarded_receive, send)

    def _limits_for(self, scope: Scope) -> tuple[int, float]:
        if self._route_limits is None:
            # Built on the first request, once every router is mounted.
            self._route_limits = {}
            for info in self.routes.entries:
                own = getattr(getattr(info.route, "endpoint", None), _LIMITS_ATTRIBUTE, None)
                if own is not None:
                    self._route_limits[id(info.route)] = (
                        own[0] or self.max_body_bytes,
                        own[1] or self.body_timeout,
                    )
        if self._route_limits:
            route = self.routes.lookup(scope).route
            if route is not None and id(route) in self._route_limits:
                return self._route_limits[id(route)]
        return self.max_body_bytes, self.body_timeout


def _too_large(max_bytes: int) -> BodyTooLarge:
    return BodyTooLarge(f"The request body exceeds the limit of {max_bytes} bytes.")
