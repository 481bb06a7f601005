"""Request ids: taken from ``X-Request-ID`` when well formed, made otherwise."""

from __future__ import annotations

import re
import secrets

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.core.context import request_id_var

# Ids from clients end up in logs: accept only short, plain tokens.
_VALID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")


class RequestIdMiddleware:
    """Sets the request id in the context and logs, and echoes it in the response."""

    def __init__(self, app: ASGIApp, header: str = "X-Request-ID") -> None:
        self.app = app
        self.header = header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == self.header:
                if _VALID.match(value):
                    request_id = value.decode("latin-1")
                break
        if request_id is None:
            request_id = secrets.token_hex(16)
        raw_id = request_id.encode("latin-1")
        token = request_id_var.set(request_id)
        structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (self.header, raw_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            request_id_var.reset(token)
