"""Problem responses sent straight from ASGI middleware."""

from __future__ import annotations

from starlette.types import Scope, Send

from bastion.core.errors import BastionError
from bastion.core.problems import PROBLEM_JSON, problem_body


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
