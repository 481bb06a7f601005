"""Security response headers, precomputed once."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Swagger UI and ReDoc run inline scripts and styles and load their workers from blobs.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    """Adds ``X-Content-Type-Options``, ``Referrer-Policy``, ``X-Frame-Options``,
    a strict CSP (relaxed on ``docs_paths``) and, when enabled, HSTS.

    A header the route already set is left as the route set it.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        csp: str,
        hsts_max_age: int | None = None,
        docs_paths: Iterable[str] = (),
    ) -> None:
        self.app = app
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if hsts_max_age is not None:
            hsts = f"max-age={hsts_max_age}; includeSubDomains".encode()
            common.append((b"strict-transport-security", hsts))
        self.api_headers = [*common, (b"content-security-policy", csp.encode("latin-1"))]
        self.docs_headers = [*common, (b"content-security-policy", DOCS_CSP.encode("latin-1"))]
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.docs_headers if scope["path"] in self.docs_paths else self.api_headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in extra if item[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
