"""Accounts: registration, email verification, password change and reset.

Verification and reset links carry a random token; only its SHA-256 is
stored, it works once and expires.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.auth.context import AuthContext, normalize_email
from bastion.auth.errors import EmailTaken, InvalidCredentials, LinkInvalid
from bastion.auth.lockout import account_key
from bastion.auth.models import OneTimeToken, User
from bastion.auth.sessions import revoke_sessions
from bastion.core.mail import send_email
from bastion.security import hash_token, new_token

log = structlog.get_logger("bastion.auth")

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"  # noqa: S105 (a purpose, not a secret)


class Accounts:
    """Users and their passwords."""

    def __init__(self, ctx: AuthContext) -> None:
        self.ctx = ctx

    async def register(
        self, session: AsyncSession, email: str, password: str, display_name: str = ""
    ) -> User:
        """Create a user and email a verification link; :class:`EmailTaken` if taken."""
        email = normalize_email(email)
        await self.ctx.policy.validate(password, email=email)
        if await self.by_email(session, email) is not None:
            raise EmailTaken("An account with this email already exists.")
        user = User(
            email=email,
            display_name=display_name,
            password_hash=await self.ctx.hasher.hash(password),
        )
        session.add(user)
        try:
            await session.flush()
        except IntegrityError as exc:  # a concurrent registration won the unique index
            raise EmailTaken("An account with this email already exists.") from exc
        await self.send_verification(session, user)
        log.info("auth.registered", user_id=str(user.id))
        return user

    async def by_email(self, session: AsyncSession, email: str) -> User | None:
        return await session.scalar(select(User).where(User.email == normalize_email(email)))

    async def send_verification(self, session: AsyncSession, user: User) -> None:
        token = await self._issue(
            session, user, VERIFY_EMAIL, self.ctx.settings.verify_email_ttl_seconds
        )
        await send_email(
            self.ctx.mailer,
            user.email,
            "auth.verify_email",
            f"Verify your email for {self.ctx.app_name}",
            f"Confirm your address with this token: {token}",
            token=token,
        )

    async def verify_email(self, session: AsyncSession, token: str) -> User:
        user = await self._redeem(session, token, VERIFY_EMAIL)
        if user.email_verified_at is None:
            user.email_verified_at = self.ctx.clock.now()
        return user

    async def change_password(
        self,
        session: AsyncSession,
        user: User,
        current: str,
        new: str,
        keep_session: uuid.UUID | None,
    ) -> int:
        """Set a new password after checking the current one; revoke the user's other
        sessions. Returns how many were revoked."""
        if user.password_hash is None or not await self.ctx.hasher.verify(
            user.password_hash, current
        ):
            raise InvalidCredentials("The current password is wrong.")
        await self._set_password(user, new)
        return await revoke_sessions(
            session, user.id, self.ctx.clock.now(), reason="password_changed", keep=keep_session
        )

    async def forgot_password(self, email: str) -> None:
        """Email a reset link if the account exists; says nothing either way.

        Runs after the response (in its own transaction), so the answer's timing
        does not depend on whether the account exists.
        """
        try:
            email = normalize_email(email)
        except ValueError:
            return
        async with self.ctx.db.session() as session:
            user = await self.by_email(session, email)
            if user is None or not user.is_active:
                log.info("auth.reset_requested_unknown")
                return
            token = await self._issue(
                session, user, RESET_PASSWORD, self.ctx.settings.reset_ttl_seconds
            )
        await send_email(
            self.ctx.mailer,
            user.email,
            "auth.reset_password",
            f"Reset your {self.ctx.app_name} password",
            f"Choose a new password with this token: {token}. "
            "If you did not ask for it, ignore this message.",
            token=token,
        )

    async def reset_password(self, session: AsyncSession, token: str, new: str) -> User:
        """Set a new password from a reset link; every session of the user is revoked."""
        user = await self._redeem(session, token, RESET_PASSWORD)
        await self._set_password(user, new)  # a refused password rolls the redemption back
        await revoke_sessions(session, user.id, self.ctx.clock.now(), reason="password_reset")
        await self.ctx.lockout.reset(account_key(user.email), session=session)
        return user

    async def _set_password(self, user: User, new: str) -> None:
        await self.ctx.policy.validate(new, email=user.email)
        user.password_hash = await self.ctx.hasher.hash(new)
        log.info("auth.password_changed", user_id=str(user.id))

    async def _issue(self, session: AsyncSession, user: User, purpose: str, ttl: int) -> str:
        token = new_token()
        session.add(
            OneTimeToken(
                user_id=user.id,
                purpose=purpose,
                token_hash=hash_token(token),
                expires_at=self.ctx.clock.now() + timedelta(seconds=ttl),
            )
        )
        await session.flush()
        return token

    async def _redeem(self, session: AsyncSession, token: str, purpose: str) -> User:
        """Spend a link token: one ``UPDATE ... WHERE used_at IS NULL`` so that two
        concurrent uses cannot both succeed."""
        now = self.ctx.clock.now()
        user_id = await session.scalar(
            update(OneTimeToken)
            .where(
                OneTimeToken.token_hash == hash_token(token),
                OneTimeToken.purpose == purpose,
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(OneTimeToken.user_id)
        )
        user = await session.get(User, user_id) if user_id is not None else None
        if user is None or not user.is_active:
            raise LinkInvalid("This link is invalid, already used or expired.")
        return user
