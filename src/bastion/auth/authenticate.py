"""From a request's credentials to a :class:`Principal`."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.auth.api_keys import ApiKeys
from bastion.auth.context import AuthContext
from bastion.auth.errors import BEARER, NotAuthenticated, SessionRevoked
from bastion.auth.models import AuthSession, User
from bastion.auth.principal import Principal


class Authenticator:
    """Checks a bearer token: an API key (``bst_...``) or an access JWT."""

    def __init__(self, ctx: AuthContext, api_keys: ApiKeys) -> None:
        self.ctx = ctx
        self.api_keys = api_keys

    async def authenticate(self, session: AsyncSession, credential: str) -> Principal:
        if self.api_keys.looks_like_key(credential):
            return await self.api_keys.authenticate(session, credential)
        settings = self.ctx.settings
        ring = await self.ctx.keys.ring()
        claims = ring.verify(credential, audience=settings.audience, issuer=settings.issuer)
        try:
            user_id, session_id = uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"])
        except (KeyError, TypeError, ValueError) as exc:
            raise NotAuthenticated("The token is not an access token.", headers=BEARER) from exc
        email = str(claims.get("email", ""))
        org = claims.get("org")
        if settings.check_session_per_request:
            email = await self._live_session_email(session, user_id, session_id)
        return Principal(
            id=user_id,
            email=email,
            session_id=session_id,
            auth_methods=tuple(claims.get("amr", ())),
            org_id=uuid.UUID(org) if isinstance(org, str) else None,
        )

    async def _live_session_email(
        self, session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID
    ) -> str:
        row: Any = (
            await session.execute(
                select(AuthSession.revoked_at, AuthSession.expires_at, User.email, User.is_active)
                .join(User, User.id == AuthSession.user_id)
                .where(AuthSession.id == session_id, AuthSession.user_id == user_id)
            )
        ).first()
        if (
            row is None
            or row.revoked_at is not None
            or row.expires_at <= self.ctx.clock.now()
            or not row.is_active
        ):
            raise SessionRevoked("This session has ended; sign in again.", headers=BEARER)
        return str(row.email)
