"""The security headers every response carries, computed once."""

from __future__ import annotations

# Swagger UI and ReDoc run inline scripts and styles and load their workers from blobs.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'"
)
Headers = list[tuple[bytes, bytes]]


def security_headers(*, csp: str, hsts_max_age: int | None, vary_origin: bool) -> Headers:
    """``X-Content-Type-Options``, ``Referrer-Policy``, ``X-Frame-Options``, the CSP,
    HSTS when ``hsts_max_age`` is set, and ``Vary: Origin`` when CORS is on (so a
    cache never hands one origin's answer to another)."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        (b"content-security-policy", csp.encode("latin-1")),
    ]
    if hsts_max_age is not None:
        hsts = f"max-age={hsts_max_age}; includeSubDomains".encode()
        headers.append((b"strict-transport-security", hsts))
    if vary_origin:
        headers.append((b"vary", b"Origin"))
    return headers


def with_csp(headers: Headers, csp: str) -> Headers:
    """``headers`` with another Content-Security-Policy (the docs pages)."""
    return [
        (name, csp.encode("latin-1") if name == b"content-security-policy" else value)
        for name, value in headers
    ]
