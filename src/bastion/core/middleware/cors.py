"""Strict CORS: Starlette's middleware, consulted only for requests with an Origin.

Requests without ``Origin`` (servers, curl, same-origin navigation) skip the
CORS machinery entirely; ``Vary: Origin`` still goes on their responses through
the security headers.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send


class OriginCORSMiddleware(CORSMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, _ in scope["headers"]:
                if name == b"origin":
                    await super().__call__(scope, receive, send)
                    return
        await self.app(scope, receive, send)
