"""``/auth/*`` and ``/.well-known/jwks.json``: thin handlers over :class:`Auth`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status

from bastion.auth import errors
from bastion.auth.browser import BrowserSessionOut, pair_answer
from bastion.auth.deps import CurrentPrincipal
from bastion.auth.models import ApiKey, User
from bastion.auth.principal import Principal
from bastion.auth.schemas import (
    ApiKeyCreatedOut,
    ApiKeyIn,
    ApiKeyOut,
    CodeIn,
    ForgotIn,
    LoginIn,
    MfaDisableIn,
    PasswordChangeIn,
    RecoveryCodesOut,
    RefreshIn,
    RegisterIn,
    ResetIn,
    RevokedOut,
    SessionOut,
    TokenIn,
    TokenPairOut,
    TotpSetupOut,
    UserOut,
)
from bastion.auth.service import Auth, auth_of
from bastion.auth.sessions import Client
from bastion.core.db import DbSession
from bastion.core.problems import problem_responses
from bastion.core.state import bastion_state
from bastion.ratelimit import auth_rate_limit
from bastion.security import PasswordRejected

router = APIRouter(prefix="/auth", tags=["auth"])
well_known = APIRouter(tags=["auth"])

_PRINCIPAL = (errors.NotAuthenticated, errors.SessionRevoked, errors.CsrfFailed)


def _auth(request: Request) -> Auth:
    return auth_of(request.app)


AuthDep = Annotated[Auth, Depends(_auth)]


def _limited(name: str) -> list[Any]:
    return [Depends(auth_rate_limit(name))]


async def _user(session: DbSession, principal: Principal) -> User:
    user = await session.get(User, principal.id)
    if user is None:
        raise errors.NotAuthenticated("The account no longer exists.", headers=errors.BEARER)
    return user


def _user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        email_verified=user.email_verified_at is not None,
        created_at=user.created_at,
    )


def _key_out(auth: Auth, row: ApiKey) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "prefix": f"{auth.api_keys.prefix}_{row.lookup}",
        "scopes": row.scopes,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "last_used_at": row.last_used_at,
    }


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    dependencies=_limited("register"),
    responses=problem_responses(errors.EmailTaken, PasswordRejected),
)
async def register(body: RegisterIn, session: DbSession, auth: AuthDep) -> UserOut:
    user = await auth.accounts.register(session, body.email, body.password, body.display_name)
    return _user_out(user)


@router.post(
    "/email/verify",
    dependencies=_limited("verify_email"),
    responses=problem_responses(errors.LinkInvalid),
)
async def verify_email(body: TokenIn, session: DbSession, auth: AuthDep) -> UserOut:
    return _user_out(await auth.accounts.verify_email(session, body.token))


@router.post(
    "/email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=_limited("verify_email"),
    responses=problem_responses(*_PRINCIPAL),
)
async def resend_verification(
    principal: CurrentPrincipal, session: DbSession, auth: AuthDep
) -> None:
    user = await _user(session, principal)
    if user.email_verified_at is None:
        await auth.accounts.send_verification(session, user)


@router.get("/me", responses=problem_responses(*_PRINCIPAL))
async def me(principal: CurrentPrincipal, session: DbSession) -> UserOut:
    return _user_out(await _user(session, principal))


@router.post(
    "/login",
    dependencies=_limited("login"),
    responses=problem_responses(
        errors.InvalidCredentials,
        errors.LockedOut,
        errors.MfaRequired,
        errors.MfaInvalid,
        errors.EmailNotVerified,
    ),
)
async def login(
    body: LoginIn, request: Request, response: Response, auth: AuthDep
) -> TokenPairOut | BrowserSessionOut:
    client = Client(
        ip=bastion_state(request.app).client_ip(request.scope),
        user_agent=request.headers.get("user-agent", ""),
        device_name=body.device_name,
    )
    pair = await auth.sessions.login(body.email, body.password, client, mfa_code=body.mfa_code)
    return pair_answer(auth.browser, pair, response)


@router.post(
    "/refresh",
    dependencies=_limited("refresh"),
    responses=problem_responses(
        errors.RefreshTokenInvalid, errors.RefreshTokenReused, errors.CsrfFailed
    ),
)
async def refresh(
    request: Request, response: Response, auth: AuthDep, body: RefreshIn | None = None
) -> TokenPairOut | BrowserSessionOut:
    """The refresh token in the body, or (cookie mode) in the ``bastion_refresh`` cookie."""
    token = body.refresh_token if body else None
    if token is None and auth.browser is not None:
        token = auth.browser.refresh_token(request)
    if token is None:
        raise errors.RefreshTokenInvalid("Send the refresh token.")
    return pair_answer(auth.browser, await auth.sessions.refresh(token), response)


@router.post(
    "/logout", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(*_PRINCIPAL)
)
async def logout(
    principal: CurrentPrincipal, session: DbSession, response: Response, auth: AuthDep
) -> None:
    if principal.session_id is not None:
        await auth.sessions.revoke(session, principal.id, principal.session_id, "logout")
    if auth.browser is not None:
        auth.browser.end(response)


@router.get("/sessions", responses=problem_responses(*_PRINCIPAL))
async def list_sessions(
    principal: CurrentPrincipal, session: DbSession, auth: AuthDep
) -> list[SessionOut]:
    rows = await auth.sessions.list(session, principal.id)
    return [
        SessionOut.model_validate(row).model_copy(
            update={"current": row.id == principal.session_id}
        )
        for row in rows
    ]


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*_PRINCIPAL, errors.SessionNotFound),
)
async def revoke_session(
    session_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, auth: AuthDep
) -> None:
    if not await auth.sessions.revoke(session, principal.id, session_id, "revoked_by_user"):
        raise errors.SessionNotFound("No such session among yours.")


@router.post("/sessions/revoke-others", responses=problem_responses(*_PRINCIPAL))
async def revoke_other_sessions(
    principal: CurrentPrincipal, session: DbSession, auth: AuthDep
) -> RevokedOut:
    count = await auth.sessions.revoke_all(
        session, principal.id, reason="revoked_by_user", keep=principal.session_id
    )
    return RevokedOut(revoked=count)


@router.post(
    "/password/change",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*_PRINCIPAL, errors.InvalidCredentials, PasswordRejected),
)
async def change_password(
    body: PasswordChangeIn, principal: CurrentPrincipal, session: DbSession, auth: AuthDep
) -> None:
    user = await _user(session, principal)
    await auth.accounts.change_password(
        session, user, body.current_password, body.new_password, keep_session=principal.session_id
    )


@router.post(
    "/password/forgot", status_code=status.HTTP_202_ACCEPTED, dependencies=_limited("forgot")
)
async def forgot_password(body: ForgotIn, tasks: BackgroundTasks, auth: AuthDep) -> Response:
    """Always 202: whether the account exists is never revealed."""
    tasks.add_task(auth.accounts.forgot_password, body.email)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/password/reset",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=_limited("reset"),
    responses=problem_responses(errors.LinkInvalid, PasswordRejected),
)
async def reset_password(body: ResetIn, session: DbSession, auth: AuthDep) -> None:
    await auth.accounts.reset_password(session, body.token, body.new_password)


@router.post("/mfa/totp/setup", responses=problem_responses(*_PRINCIPAL, errors.MfaAlreadyEnabled))
async def totp_setup(
    principal: CurrentPrincipal, session: DbSession, auth: AuthDep
) -> TotpSetupOut:
    secret, uri = await auth.mfa.setup(session, await _user(session, principal))
    return TotpSetupOut(secret=secret, otpauth_uri=uri)


@router.post(
    "/mfa/totp/enable",
    dependencies=_limited("mfa"),
    responses=problem_responses(
        *_PRINCIPAL, errors.MfaInvalid, errors.MfaNotEnabled, errors.MfaAlreadyEnabled
    ),
)
async def totp_enable(
    body: CodeIn, principal: CurrentPrincipal, session: DbSession, auth: AuthDep
) -> RecoveryCodesOut:
    codes = await auth.mfa.enable(session, await _user(session, principal), body.code)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post(
    "/mfa/totp/disable",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=_limited("mfa"),
    responses=problem_responses(*_PRINCIPAL, errors.InvalidCredentials, errors.MfaNotEnabled),
)
async def totp_disable(
    body: MfaDisableIn, principal: CurrentPrincipal, session: DbSession, auth: AuthDep
) -> None:
    user = await _user(session, principal)
    await auth.mfa.disable(session, user, password=body.password, code=body.code)


@router.post(
    "/api-keys", status_code=status.HTTP_201_CREATED, responses=problem_responses(*_PRINCIPAL)
)
async def create_api_key(
    body: ApiKeyIn, principal: CurrentPrincipal, session: DbSession, auth: AuthDep
) -> ApiKeyCreatedOut:
    narrowed = (
        body.scopes
        if principal.scopes is None
        else [scope for scope in body.scopes if scope in principal.scopes]
    )
    row, key = await auth.api_keys.create(
        session, principal.id, body.name, narrowed, body.expires_at
    )
    return ApiKeyCreatedOut(key=key, **_key_out(auth, row))


@router.get("/api-keys", responses=problem_responses(*_PRINCIPAL))
async def list_api_keys(
    principal: CurrentPrincipal, session: DbSession, auth: AuthDep
) -> list[ApiKeyOut]:
    rows = await auth.api_keys.list(session, principal.id)
    return [ApiKeyOut(**_key_out(auth, row)) for row in rows]


@router.delete(
    "/api-keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*_PRINCIPAL, errors.ApiKeyNotFound),
)
async def revoke_api_key(
    key_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, auth: AuthDep
) -> None:
    if not await auth.api_keys.revoke(session, principal.id, key_id):
        raise errors.ApiKeyNotFound("No such API key among yours.")


@well_known.get("/.well-known/jwks.json")
async def jwks(auth: AuthDep) -> dict[str, Any]:
    """The public keys that verify access tokens (key rolling: several at once)."""
    return (await auth.ctx.keys.ring()).jwks()
