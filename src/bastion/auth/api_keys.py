"""API keys: ``bst_<lookup>_<secret>``, shown once, kept as a SHA-256.

The lookup part finds the row by a unique index; the whole key's hash is then
compared in constant time. Keys carry scopes that narrow what their owner may
do, may expire, and record when they were last used (at most once a minute,
to keep hot keys from writing on every request).
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.auth.context import AuthContext
from bastion.auth.errors import BEARER, NotAuthenticated
from bastion.auth.models import ApiKey, User
from bastion.auth.principal import Principal
from bastion.security import hash_token, new_token, tokens_equal

log = structlog.get_logger("bastion.auth")
SCOPE = re.compile(r"^[a-z0-9][a-z0-9_.:*-]{0,99}$")
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeys:
    """Create, list, revoke and authenticate API keys."""

    def __init__(self, ctx: AuthContext) -> None:
        self.ctx = ctx
        self.prefix = ctx.settings.api_key_prefix

    async def create(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        name: str,
        scopes: list[str],
        expires_at: datetime | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key and its plain value (never stored, never shown again)."""
        bad = [scope for scope in scopes if not SCOPE.match(scope)]
        if bad:
            raise ValueError(f"invalid scopes: {', '.join(bad)}")
        lookup = secrets.token_hex(6)
        key = f"{self.prefix}_{lookup}_{new_token(32)}"
        row = ApiKey(
            user_id=user_id,
            name=name,
            lookup=lookup,
            key_hash=hash_token(key),
            scopes=sorted(set(scopes)),
            created_at=self.ctx.clock.now(),
            expires_at=expires_at,
        )
        session.add(row)
        await session.flush()
        log.info("auth.api_key_created", user_id=str(user_id), api_key_id=str(row.id))
        await self.ctx.audit_event(
            session, "auth.api_key_created", actor=f"user:{user_id}", api_key_id=str(row.id)
        )
        return row, key

    def looks_like_key(self, value: str) -> bool:
        return value.startswith(f"{self.prefix}_")

    async def list(self, session: AsyncSession, user_id: uuid.UUID) -> list[ApiKey]:
        rows = await session.scalars(
            select(ApiKey)
            .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
            .order_by(ApiKey.created_at.desc())
        )
        return list(rows.all())

    async def revoke(self, session: AsyncSession, user_id: uuid.UUID, key_id: uuid.UUID) -> bool:
        revoked = await session.scalar(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=self.ctx.clock.now())
            .returning(ApiKey.id)
        )
        if revoked is not None:
            await self.ctx.audit_event(
                session, "auth.api_key_revoked", actor=f"user:{user_id}", api_key_id=str(key_id)
            )
        return revoked is not None

    async def authenticate(self, session: AsyncSession, key: str) -> Principal:
        """The principal of a live key; :class:`NotAuthenticated` otherwise."""
        _prefix, _, rest = key.partition("_")
        lookup, _, _secret = rest.partition("_")
        now = self.ctx.clock.now()
        found = (
            await session.execute(
                select(ApiKey, User)
                .join(User, User.id == ApiKey.user_id)
                .where(ApiKey.lookup == lookup)
            )
        ).first()
        if found is None:
            raise _refused()
        row, user = found
        if (
            not tokens_equal(row.key_hash, hash_token(key))
            or row.revoked_at is not None
            or (row.expires_at is not None and row.expires_at <= now)
            or not user.is_active
        ):
            raise _refused()
        await session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == row.id,
                (ApiKey.last_used_at.is_(None))
                | (ApiKey.last_used_at < now - LAST_USED_RESOLUTION),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        return Principal(
            id=user.id,
            email=user.email,
            api_key_id=row.id,
            scopes=frozenset(row.scopes),
            auth_methods=("api_key",),
        )


def _refused() -> NotAuthenticated:
    return NotAuthenticated("The API key is invalid, expired or revoked.", headers=BEARER)
