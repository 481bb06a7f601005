"""Request body size limit: 413 before reading when ``Content-Length`` says so,
and while streaming when it does not (chunked bodies, lying clients)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.core.errors import BodyTooLarge
from bastion.core.middleware.problem import send_problem


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, type_base: str) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.app = app
        self.max_bytes = max_bytes
        self.type_base = type_base

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                # The server has already refused a malformed Content-Length.
                if value.isdigit() and int(value) > self.max_bytes:
                    await send_problem(send, scope, self._error(), type_base=self.type_base)
                    return
                break
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._error()
            return message

        await self.app(scope, limited_receive, send)

    def _error(self) -> BodyTooLarge:
        return BodyTooLarge(f"The request body exceeds the limit of {self.max_bytes} bytes.")
