"""``/auth/oauth/{provider}/authorize`` and ``/callback``: sign-in with OpenID Connect."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import RedirectResponse

from bastion.auth import errors
from bastion.auth.browser import BrowserSessionOut, pair_answer
from bastion.auth.oauth import Flow, OAuthLogin
from bastion.auth.schemas import TokenPairOut
from bastion.auth.service import Auth, auth_of
from bastion.auth.sessions import Client
from bastion.core.problems import problem_responses
from bastion.core.state import bastion_state
from bastion.ratelimit import auth_rate_limit

router = APIRouter(prefix="/auth/oauth", tags=["auth"])


def _auth(request: Request) -> Auth:
    return auth_of(request.app)


AuthDep = Annotated[Auth, Depends(_auth)]


def _oauth(auth: Auth) -> OAuthLogin:
    if auth.oauth is None:
        raise errors.OAuthUnknownProvider("No sign-in provider is configured.")
    return auth.oauth


def _redirect_uri(request: Request, oauth: OAuthLogin, provider: str) -> str:
    configured = oauth.client(provider).config.redirect_uri
    return configured or str(request.url_for("oauth_callback", provider=provider))


@router.get(
    "/{provider}/authorize",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    dependencies=[Depends(auth_rate_limit("oauth"))],
    responses=problem_responses(errors.OAuthUnknownProvider, errors.OAuthProviderUnavailable),
)
async def oauth_authorize(provider: str, request: Request, auth: AuthDep) -> RedirectResponse:
    """Redirect to the provider's sign-in page (PKCE S256, state and nonce)."""
    oauth = _oauth(auth)
    url, flow = await oauth.start(provider, _redirect_uri(request, oauth, provider))
    response = RedirectResponse(url, status_code=status.HTTP_302_FOUND)
    oauth.flow_cookie.set(response, flow.dump())
    return response


@router.get(
    "/{provider}/callback",
    name="oauth_callback",
    dependencies=[Depends(auth_rate_limit("oauth"))],
    responses=problem_responses(
        errors.OAuthUnknownProvider,
        errors.OAuthStateInvalid,
        errors.OAuthDenied,
        errors.OAuthCodeInvalid,
        errors.OAuthIdTokenInvalid,
        errors.OAuthNonceInvalid,
        errors.OAuthEmailMissing,
        errors.OAuthEmailUnverified,
        errors.OAuthProviderUnavailable,
    ),
)
async def oauth_callback(
    provider: str,
    request: Request,
    response: Response,
    auth: AuthDep,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=200)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> TokenPairOut | BrowserSessionOut:
    """Where the provider sends the browser back: open a session like a login."""
    oauth = _oauth(auth)
    pair = await oauth.finish(
        provider,
        Flow.load(oauth.flow_cookie.read(request)),
        state=state,
        code=code,
        error=error,
        redirect_uri=_redirect_uri(request, oauth, provider),
        client=Client(
            ip=bastion_state(request.app).client_ip(request.scope),
            user_agent=request.headers.get("user-agent", ""),
            device_name=provider,
        ),
    )
    oauth.flow_cookie.clear(response)
    return pair_answer(auth.browser, pair, response)
