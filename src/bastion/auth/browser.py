"""Cookie session mode (``BASTION_AUTH__COOKIE_MODE``) for browser clients.

The token pair travels in cookies script cannot read: ``bastion_access``
(``Path=/``, lives as long as the access token) and ``bastion_refresh``
(``Path=/auth``: only the auth routes ever see it). Both are the very tokens
bearer clients get, so verification, revocation and refresh rotation with
reuse detection are the same code; no session store is added. The body
carries the session id and the CSRF token instead of the tokens, so a script
injected into the page cannot lift them from a login or refresh answer.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from starlette.requests import HTTPConnection
from starlette.responses import Response

from bastion.auth.cookies import CookieOptions
from bastion.auth.csrf import CSRF_COOKIE, CsrfTokens
from bastion.auth.schemas import TokenPairOut
from bastion.auth.sessions import TokenPair
from bastion.auth.settings import AuthSettings

ACCESS_COOKIE = "bastion_access"
REFRESH_COOKIE = "bastion_refresh"
REFRESH_PATH = "/auth"


class BrowserSessionOut(BaseModel):
    """What cookie mode answers instead of the token pair."""

    token_type: str = "cookie"  # noqa: S105 (not a secret: how the tokens travel)
    expires_in: int
    session_id: uuid.UUID
    csrf_token: str


class BrowserSessions:
    """Sets, reads and clears the session cookies; holds the CSRF tokens."""

    def __init__(self, settings: AuthSettings, options: CookieOptions, csrf: CsrfTokens) -> None:
        self.settings = settings
        self.options = options
        self.csrf = csrf

    def start(self, response: Response, pair: TokenPair) -> BrowserSessionOut:
        """Put ``pair`` in cookies on ``response`` (login, refresh, OAuth callback)."""
        csrf = self.csrf.issue(pair.session_id)
        access_ttl, refresh_ttl = (
            self.settings.access_ttl_seconds,
            self.settings.refresh_ttl_seconds,
        )
        self.options.set(response, ACCESS_COOKIE, pair.access_token, max_age=access_ttl)
        self.options.set(
            response, REFRESH_COOKIE, pair.refresh_token, max_age=refresh_ttl, path=REFRESH_PATH
        )
        self.options.set(response, CSRF_COOKIE, csrf, max_age=refresh_ttl, httponly=False)
        return BrowserSessionOut(
            expires_in=pair.expires_in, session_id=pair.session_id, csrf_token=csrf
        )

    def end(self, response: Response) -> None:
        """Clear the session cookies (logout)."""
        self.options.clear(response, ACCESS_COOKIE)
        self.options.clear(response, REFRESH_COOKIE, path=REFRESH_PATH)
        self.options.clear(response, CSRF_COOKIE)

    def access_token(self, request: HTTPConnection) -> str | None:
        return request.cookies.get(ACCESS_COOKIE) or None

    def refresh_token(self, request: HTTPConnection) -> str | None:
        """The refresh cookie of a request that passed the CSRF check."""
        token = request.cookies.get(REFRESH_COOKIE)
        if token:
            self.csrf.check(request, None)
        return token or None


def pair_answer(
    browser: BrowserSessions | None, pair: TokenPair, response: Response
) -> TokenPairOut | BrowserSessionOut:
    """The token pair as JSON, or in cookies when cookie mode is on."""
    if browser is not None:
        return browser.start(response, pair)
    return TokenPairOut.of(pair)
