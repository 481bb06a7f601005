"""What every part of authentication shares, built once by ``install_auth``."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bastion.auth.lockout import LockoutGuard
from bastion.auth.settings import AuthSettings
from bastion.core.clock import Clock
from bastion.core.db import Database
from bastion.core.mail import Mailer
from bastion.security import (
    KeyRing,
    KeyRingCache,
    PasswordHasher,
    PasswordPolicy,
    SecretBox,
    SigningKeyStore,
)
from bastion.security.audit import AuditLog, AuditRecord
from bastion.security.jwt import Algorithm


@dataclass
class AuthContext:
    """The stores, keys and hooks of authentication."""

    settings: AuthSettings
    app_name: str
    db: Database
    clock: Clock
    hasher: PasswordHasher
    policy: PasswordPolicy
    keys: KeyRingCache
    key_store: SigningKeyStore
    key_algorithm: Algorithm
    box: SecretBox
    mailer: Mailer
    lockout: LockoutGuard
    audit: AuditLog

    async def signing_ring(self) -> KeyRing:
        """The key ring, with a first signing key made if there is none yet (so a new
        deployment needs no manual step; ``bastion keys rotate`` rolls keys later)."""
        ring = await self.keys.ring()
        if not ring.kids:
            await self.key_store.ensure_key(self.key_algorithm)
            self.keys.invalidate()
            ring = await self.keys.ring()
        return ring

    async def audit_event(
        self, session: AsyncSession | None, action: str, *, actor: str, ip: str = "", **data: str
    ) -> None:
        """Record a security event on the system chain: in ``session``'s transaction,
        or in its own when ``session`` is None (it must stick although the request fails)."""
        record = AuditRecord(action, actor=actor, target=actor, ip=ip, data=data)
        if session is None:
            await self.audit.record(record)
        else:
            await self.audit.append(session, record)


def normalize_email(raw: str) -> str:
    """The form an email is stored and compared in: NFKC, trimmed, lower case.

    >>> normalize_email("  Ada.Lovelace@Example.COM ")
    'ada.lovelace@example.com'
    """
    email = unicodedata.normalize("NFKC", raw).strip().lower()
    local, at, domain = email.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain
        or len(email) > 320
        or any(c.isspace() for c in email)
    ):
        raise ValueError("not a valid email address")
    return email
