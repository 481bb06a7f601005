"""FastAPI dependencies: who is calling, and what they may do.

>>> from fastapi import APIRouter, Depends
>>> router = APIRouter()
>>> @router.get("/reports", dependencies=[Depends(require_scopes("reports:read"))])
... async def reports(principal: CurrentPrincipal) -> dict[str, str]:
...     return {"for": principal.subject}
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from bastion.auth.errors import BEARER, InsufficientScope, NotAuthenticated
from bastion.auth.principal import Principal
from bastion.auth.service import auth_of
from bastion.core.context import principal_var
from bastion.core.db import DbSession

_bearer = HTTPBearer(auto_error=False, description="An access token or an API key.")
# A cookie holding an API key has no session; no CSRF token is signed for this id.
_NO_SESSION = uuid.UUID(int=0)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")


async def optional_principal(
    request: Request,
    session: DbSession,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> Principal | None:
    """The caller, or ``None`` when the request carries no credentials.
    Credentials that are present but wrong are refused (401), never ignored.
    In cookie mode, without those headers, the session cookie counts, and an
    unsafe method must pass the CSRF check (403 ``auth.csrf_failed``)."""
    auth = auth_of(request.app)
    credential = api_key or (bearer.credentials if bearer else None)
    if credential:
        principal = await auth.authenticator.authenticate(session, credential)
    elif auth.browser is not None and (cookie := auth.browser.access_token(request)):
        principal = await auth.authenticator.authenticate(session, cookie)
        auth.browser.csrf.check(request, principal.session_id or _NO_SESSION)
    else:
        return None
    principal_var.set(principal)
    return principal


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    """The caller; 401 ``auth.not_authenticated`` without credentials."""
    if principal is None:
        raise NotAuthenticated("Send an access token or API key.", headers=BEARER)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


def require_scopes(*scopes: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency refusing API keys without every scope in ``scopes`` (403
    ``auth.insufficient_scope``); a user's own session is not narrowed."""
    required = frozenset(scopes)

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_scopes(required):
            missing = ", ".join(sorted(required - (principal.scopes or frozenset())))
            raise InsufficientScope(f"This API key lacks the scope(s): {missing}.", missing=missing)
        return principal

    return check
