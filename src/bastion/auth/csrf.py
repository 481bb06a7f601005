"""Double-submit CSRF tokens for cookie-authenticated requests.

A browser sends cookies with requests other sites start, so a write
authenticated by a cookie must prove it comes from the app's own pages: it
repeats the non-HttpOnly ``bastion_csrf`` cookie in the ``X-CSRF-Token``
header, which another site can neither read nor set. The token is signed over
the session id, so a cookie planted from a sibling subdomain (it cannot be
signed there) or taken from another session does not pass. Requests with an
``Authorization`` or ``X-API-Key`` header are not CSRF-prone (a browser never
adds those by itself) and are not checked.
"""

from __future__ import annotations

import hmac
import uuid

from starlette.requests import HTTPConnection

from bastion.auth.errors import CsrfFailed
from bastion.security import BadSignature, Signer

CSRF_COOKIE = "bastion_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE"))


class CsrfTokens:
    """Issue a session's token; check a request's cookie against its header."""

    def __init__(self, signer: Signer) -> None:
        self._signer = signer

    def issue(self, session_id: uuid.UUID) -> str:
        return self._signer.sign(session_id.hex)

    def check(self, request: HTTPConnection, session_id: uuid.UUID | None) -> None:
        """Pass safe methods; otherwise the header must equal the cookie (in constant
        time) and be signed for ``session_id`` (for any session when ``None``)."""
        if request.scope.get("method", "GET") in SAFE_METHODS:
            return
        cookie = request.cookies.get(CSRF_COOKIE, "")
        header = request.headers.get(CSRF_HEADER, "")
        if not cookie or not hmac.compare_digest(cookie.encode(), header.encode()):
            raise CsrfFailed(f"Send the {CSRF_COOKIE} cookie's value in the {CSRF_HEADER} header.")
        try:
            signed_for = self._signer.unsign(cookie)
        except BadSignature as exc:
            raise CsrfFailed("The CSRF token is not one this app issued.") from exc
        if session_id is not None and not hmac.compare_digest(signed_for, session_id.hex):
            raise CsrfFailed("The CSRF token belongs to another session.")
