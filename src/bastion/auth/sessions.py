"""Sign-in sessions: login, access tokens, refresh-token rotation, revocation.

Every login makes a session (one device). The client holds a short-lived
access JWT (``sid`` names the session) and a refresh token; only the refresh
token's SHA-256 is stored. Refreshing spends the token with one conditional
``UPDATE`` and issues a new pair; presenting a spent token again means it was
stolen or replayed (RFC 9700 §4.14.2): the whole session is revoked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.auth.context import AuthContext, normalize_email
from bastion.auth.errors import (
    AuthError,
    EmailNotVerified,
    InvalidCredentials,
    MfaInvalid,
    MfaRequired,
    RefreshTokenInvalid,
    RefreshTokenReused,
)
from bastion.auth.lockout import account_key, ip_key
from bastion.auth.mfa import Mfa
from bastion.auth.models import AuthSession, RefreshToken, User
from bastion.core.ids import uuid7
from bastion.core.mail import send_email
from bastion.security import KeyRing, hash_token, new_token

log = structlog.get_logger("bastion.auth")


@dataclass(frozen=True)
class Client:
    """Where a login comes from."""

    ip: str
    user_agent: str = ""
    device_name: str = ""


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: uuid.UUID
    token_type: str = "bearer"  # noqa: S105 (the OAuth 2 token type)


class Sessions:
    """Login, refresh, list and revoke sessions."""

    def __init__(self, ctx: AuthContext, mfa: Mfa) -> None:
        self.ctx = ctx
        self.mfa = mfa

    async def login(
        self, email: str, password: str, client: Client, *, mfa_code: str | None = None
    ) -> TokenPair:
        """Check the credentials (and second factor) and open a session.

        Unknown accounts cost the same password hash as known ones. Failures are
        counted per account and per IP in their own transactions, after the main
        one has ended.
        """
        try:
            email = normalize_email(email)
        except ValueError:
            email = email.strip().lower()
        keys = (account_key(email), ip_key(client.ip))
        await self.ctx.lockout.check(*keys)
        ring = await self.ctx.signing_ring()  # before the transaction: it may write a key
        async with self.ctx.db.session() as session:
            outcome = await self._authenticate(session, email, password, mfa_code)
            if isinstance(outcome, User):
                await self.ctx.lockout.reset(keys[0], session=session)
                methods = ["pwd", "mfa"] if mfa_code else ["pwd"]
                auth_session = self._open(session, outcome, client, methods)
                pair = await self.issue(session, ring, auth_session, outcome)
                log.info("auth.login", user_id=str(outcome.id), session_id=str(pair.session_id))
                await self.ctx.audit_event(
                    session, "auth.login", actor=f"user:{outcome.id}", ip=client.ip
                )
                return pair
        if isinstance(outcome, InvalidCredentials | MfaInvalid):
            await self._count_failure(email, client.ip)
            await self.ctx.audit_event(
                None, "auth.login_failed", actor=f"email:{email}", ip=client.ip, code=outcome.code
            )
        raise outcome

    async def _authenticate(
        self, session: AsyncSession, email: str, password: str, mfa_code: str | None
    ) -> User | AuthError:
        user = await session.scalar(select(User).where(User.email == email))
        if user is None or user.password_hash is None or not user.is_active:
            await self.ctx.hasher.verify_dummy(password)
            return InvalidCredentials("The email or password is wrong.")
        if not await self.ctx.hasher.verify(user.password_hash, password):
            return InvalidCredentials("The email or password is wrong.")
        if self.ctx.hasher.needs_rehash(user.password_hash):
            user.password_hash = await self.ctx.hasher.hash(password)
        if self.ctx.settings.require_verified_email and user.email_verified_at is None:
            return EmailNotVerified("Verify your email address before signing in.")
        if await self.mfa.enabled(session, user.id):
            if not mfa_code:
                return MfaRequired("Send the code of your authenticator app as mfa_code.")
            if not await self.mfa.check(session, user.id, mfa_code):
                return MfaInvalid("The one-time code is wrong or was already used.")
        return user

    async def _count_failure(self, email: str, ip: str) -> None:
        settings = self.ctx.settings
        await self.ctx.lockout.record_failure(ip_key(ip), settings.lockout_max_failures_per_ip)
        until = await self.ctx.lockout.record_failure(
            account_key(email), settings.lockout_max_failures
        )
        if until is not None:
            await self.ctx.audit_event(
                None, "auth.locked_out", actor=f"email:{email}", ip=ip, until=until.isoformat()
            )
            await self._notify_lockout(email, until)

    async def _notify_lockout(self, email: str, until: datetime) -> None:
        async with self.ctx.db.session() as session:
            exists = await session.scalar(select(User.id).where(User.email == email))
        if exists is not None:
            await send_email(
                self.ctx.mailer,
                email,
                "auth.locked_out",
                f"Sign-in to {self.ctx.app_name} paused",
                "There were several failed attempts to sign in to your account; sign-in "
                f"is paused until {until:%Y-%m-%d %H:%M} UTC. If this was not you, "
                "consider changing your password.",
                until=until.isoformat(),
            )

    def _open(
        self, session: AsyncSession, user: User, client: Client, methods: list[str]
    ) -> AuthSession:
        now = self.ctx.clock.now()
        auth_session = AuthSession(
            id=uuid7(),
            user_id=user.id,
            device_name=client.device_name[:200],
            user_agent=client.user_agent[:500],
            ip=client.ip[:64],
            auth_methods=methods,
            created_at=now,
            last_used_at=now,
            expires_at=now + timedelta(seconds=self.ctx.settings.refresh_ttl_seconds),
        )
        session.add(auth_session)
        return auth_session

    async def open_session(
        self, session: AsyncSession, ring: KeyRing, user: User, client: Client, methods: list[str]
    ) -> TokenPair:
        """Open a session for a user another means authenticated (an OAuth
        provider) and issue its first token pair, in the caller's transaction."""
        return await self.issue(session, ring, self._open(session, user, client, methods), user)

    async def issue(
        self, session: AsyncSession, ring: KeyRing, auth_session: AuthSession, user: User
    ) -> TokenPair:
        """A new access token and refresh token for ``auth_session``."""
        settings = self.ctx.settings
        now = self.ctx.clock.now()
        claims: dict[str, Any] = {
            "sub": str(user.id),
            "sid": str(auth_session.id),
            "email": user.email,
            "iss": settings.issuer,
            "aud": settings.audience,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(now.timestamp()) + settings.access_ttl_seconds,
            "jti": uuid7().hex,
            "amr": list(auth_session.auth_methods),
        }
        if auth_session.active_org_id is not None:
            claims["org"] = str(auth_session.active_org_id)
        access = ring.sign(claims)
        refresh = new_token()
        session.add(
            RefreshToken(session_id=auth_session.id, token_hash=hash_token(refresh), created_at=now)
        )
        await session.flush()
        return TokenPair(access, refresh, settings.access_ttl_seconds, auth_session.id)

    async def refresh(self, token: str) -> TokenPair:
        """Rotate a refresh token. A spent one revokes its session, and that
        revocation is committed before the error is raised."""
        ring = await self.ctx.signing_ring()
        async with self.ctx.db.session() as session:
            outcome = await self._rotate(session, ring, token)
        if isinstance(outcome, AuthError):
            raise outcome
        return outcome

    async def _rotate(
        self, session: AsyncSession, ring: KeyRing, token: str
    ) -> TokenPair | AuthError:
        now = self.ctx.clock.now()
        digest = hash_token(token)
        session_id = await session.scalar(
            update(RefreshToken)
            .where(RefreshToken.token_hash == digest, RefreshToken.spent_at.is_(None))
            .values(spent_at=now)
            .returning(RefreshToken.session_id)
        )
        if session_id is None:
            spent_in = await session.scalar(
                select(RefreshToken.session_id).where(RefreshToken.token_hash == digest)
            )
            if spent_in is None:
                return RefreshTokenInvalid("Unknown refresh token; sign in again.")
            await revoke_session(session, spent_in, now, reason="refresh_token_reused")
            await self.ctx.audit_event(
                session, "auth.session_revoked", actor=f"session:{spent_in}", reason="reuse"
            )
            log.warning("auth.refresh_token_reused", session_id=str(spent_in))
            return RefreshTokenReused("This refresh token was already used; sign in again.")
        auth_session = await session.get(AuthSession, session_id)
        user = await session.get(User, auth_session.user_id) if auth_session else None
        if (
            auth_session is None
            or user is None
            or not user.is_active
            or auth_session.revoked_at is not None
            or auth_session.expires_at <= now
        ):
            return RefreshTokenInvalid("This session has ended; sign in again.")
        auth_session.last_used_at = now
        auth_session.expires_at = now + timedelta(seconds=self.ctx.settings.refresh_ttl_seconds)
        return await self.issue(session, ring, auth_session, user)

    async def switch_org(
        self, session: AsyncSession, session_id: uuid.UUID, org_id: uuid.UUID
    ) -> TokenPair:
        """New tokens for the session acting in ``org_id`` (membership is the caller's
        check); the session's unspent refresh tokens are spent."""
        ring = await self.ctx.signing_ring()
        auth_session = await session.get(AuthSession, session_id)
        user = await session.get(User, auth_session.user_id) if auth_session else None
        if auth_session is None or user is None or auth_session.revoked_at is not None:
            raise RefreshTokenInvalid("This session has ended; sign in again.")
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.session_id == session_id, RefreshToken.spent_at.is_(None))
            .values(spent_at=self.ctx.clock.now())
        )
        auth_session.active_org_id = org_id
        return await self.issue(session, ring, auth_session, user)

    async def list(self, session: AsyncSession, user_id: uuid.UUID) -> list[AuthSession]:
        """The user's live sessions, newest first."""
        now = self.ctx.clock.now()
        rows = await session.scalars(
            select(AuthSession)
            .where(
                AuthSession.user_id == user_id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
            )
            .order_by(AuthSession.created_at.desc())
        )
        return list(rows.all())

    async def revoke(
        self, session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID, reason: str
    ) -> bool:
        """Revoke one of the user's sessions; ``False`` if it is not theirs or not live."""
        now = self.ctx.clock.now()
        revoked = await revoke_session(session, session_id, now, reason=reason, user_id=user_id)
        if revoked:
            await self.ctx.audit_event(
                session,
                "auth.session_revoked",
                actor=f"user:{user_id}",
                session_id=str(session_id),
                reason=reason,
            )
        return revoked

    async def revoke_all(
        self, session: AsyncSession, user_id: uuid.UUID, *, reason: str, keep: uuid.UUID | None
    ) -> int:
        """Revoke every live session of the user but ``keep``; how many."""
        now = self.ctx.clock.now()
        count = await revoke_sessions(session, user_id, now, reason=reason, keep=keep)
        await self.ctx.audit_event(
            session, "auth.sessions_revoked", actor=f"user:{user_id}", count=str(count)
        )
        return count


async def revoke_session(
    session: AsyncSession,
    session_id: uuid.UUID,
    now: datetime,
    *,
    reason: str,
    user_id: uuid.UUID | None = None,
) -> bool:
    """Revoke one live session (of ``user_id`` when given); whether it was."""
    condition = AuthSession.id == session_id
    if user_id is not None:
        condition &= AuthSession.user_id == user_id
    return bool(await _revoke(session, now, reason, condition))


async def revoke_sessions(
    session: AsyncSession,
    user_id: uuid.UUID,
    now: datetime,
    *,
    reason: str,
    keep: uuid.UUID | None = None,
) -> int:
    """Revoke every live session of a user but ``keep``; how many were revoked."""
    condition = AuthSession.user_id == user_id
    if keep is not None:
        condition &= AuthSession.id != keep
    return len(await _revoke(session, now, reason, condition))


async def _revoke(
    session: AsyncSession, now: datetime, reason: str, condition: Any
) -> list[uuid.UUID]:
    statement = (
        update(AuthSession)
        .where(condition, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason)
        .returning(AuthSession.id)
    )
    return list((await session.scalars(statement)).all())
