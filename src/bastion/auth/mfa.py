"""TOTP second factor and one-time recovery codes.

The secret is stored encrypted; a code is accepted once: its time step is
recorded by a conditional ``UPDATE`` (``last_used_step < step``), so a replay,
even a concurrent one, fails. Recovery codes are stored hashed and spent the
same way.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.auth.context import AuthContext
from bastion.auth.errors import InvalidCredentials, MfaAlreadyEnabled, MfaInvalid, MfaNotEnabled
from bastion.auth.models import RecoveryCode, TotpFactor, User
from bastion.security import (
    hash_token,
    new_recovery_codes,
    new_totp_secret,
    provisioning_uri,
    verify_totp,
)

log = structlog.get_logger("bastion.auth")
TOTP_CONTEXT = b"auth.totp"


class Mfa:
    """Set up, enable, check and disable TOTP for a user."""

    def __init__(self, ctx: AuthContext) -> None:
        self.ctx = ctx

    async def setup(self, session: AsyncSession, user: User) -> tuple[str, str]:
        """A new (not yet enabled) secret and its ``otpauth://`` URI."""
        factor = await session.get(TotpFactor, user.id)
        if factor is not None and factor.enabled_at is not None:
            raise MfaAlreadyEnabled("Disable MFA before setting it up again.")
        secret = new_totp_secret()
        encrypted = self.ctx.box.encrypt(secret.encode(), context=TOTP_CONTEXT)
        if factor is None:
            session.add(TotpFactor(user_id=user.id, secret=encrypted))
        else:
            factor.secret, factor.last_used_step = encrypted, None
        issuer = self.ctx.settings.mfa_issuer or self.ctx.app_name
        return secret, provisioning_uri(secret, user.email, issuer)

    async def enable(self, session: AsyncSession, user: User, code: str) -> list[str]:
        """Confirm the set-up secret with a code; the recovery codes, shown once."""
        factor = await session.get(TotpFactor, user.id)
        if factor is None:
            raise MfaNotEnabled("Set up TOTP first (POST /auth/mfa/totp/setup).")
        if factor.enabled_at is not None:
            raise MfaAlreadyEnabled("MFA is already enabled.")
        if not await self._spend_totp(session, factor, code):
            raise MfaInvalid("The code is wrong or was already used.")
        factor.enabled_at = self.ctx.clock.now()
        codes = new_recovery_codes(10)
        await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        session.add_all(RecoveryCode(user_id=user.id, code_hash=_code_hash(c)) for c in codes)
        log.info("auth.mfa_enabled", user_id=str(user.id))
        await self.ctx.audit_event(session, "auth.mfa_enabled", actor=f"user:{user.id}")
        return codes

    async def disable(
        self, session: AsyncSession, user: User, *, password: str | None, code: str | None
    ) -> None:
        """Turn MFA off after proving it is the user: the password or a current code."""
        if not await self.enabled(session, user.id):
            raise MfaNotEnabled("MFA is not enabled.")
        if password is not None and user.password_hash is not None:
            proven = await self.ctx.hasher.verify(user.password_hash, password)
        else:
            proven = code is not None and await self.check(session, user.id, code)
        if not proven:
            raise InvalidCredentials("The password or code is wrong.")
        await session.execute(delete(TotpFactor).where(TotpFactor.user_id == user.id))
        await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        log.info("auth.mfa_disabled", user_id=str(user.id))
        await self.ctx.audit_event(session, "auth.mfa_disabled", actor=f"user:{user.id}")

    async def enabled(self, session: AsyncSession, user_id: uuid.UUID) -> bool:
        enabled_at = await session.scalar(
            select(TotpFactor.enabled_at).where(TotpFactor.user_id == user_id)
        )
        return enabled_at is not None

    async def check(self, session: AsyncSession, user_id: uuid.UUID, code: str) -> bool:
        """Spend a TOTP code or a recovery code of an enabled factor."""
        factor = await session.get(TotpFactor, user_id)
        if factor is None or factor.enabled_at is None:
            return False
        if await self._spend_totp(session, factor, code):
            return True
        spent = await session.scalar(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == _code_hash(code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=self.ctx.clock.now())
            .returning(RecoveryCode.id)
        )
        if spent is not None:
            log.warning("auth.recovery_code_used", user_id=str(user_id))
        return spent is not None

    async def _spend_totp(self, session: AsyncSession, factor: TotpFactor, code: str) -> bool:
        secret = self.ctx.box.decrypt(factor.secret, context=TOTP_CONTEXT).decode()
        step = verify_totp(
            secret, code, now=self.ctx.clock.now(), last_used_step=factor.last_used_step
        )
        if step is None:
            return False
        newer = (TotpFactor.last_used_step.is_(None)) | (TotpFactor.last_used_step < step)
        spent = await session.scalar(
            update(TotpFactor)
            .where(TotpFactor.user_id == factor.user_id, newer)
            .values(last_used_step=step)
            .returning(TotpFactor.user_id)
            .execution_options(synchronize_session=False)
        )
        if spent is not None:
            factor.last_used_step = step
        return spent is not None


def _code_hash(code: str) -> str:
    """Recovery codes are compared without dashes, spaces or case."""
    return hash_token(code.replace("-", "").replace(" ", "").lower())
