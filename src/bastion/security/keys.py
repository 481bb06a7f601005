"""JWT signing keys in the database, and the ring every process loads from them.

Rolling keys, as an operator::

    bastion keys rotate          # a new key; it signs once every process has it;
                                 # keys sealed with a previous secret key are re-sealed
    # ... wait at least the access token lifetime ...
    bastion keys retire OLD_KID  # tokens it signed stop verifying at once

:class:`KeyRingCache` reloads the ring at most every ``reload_seconds``, and a
new key starts signing only that long after it was made, so no process ever
sees a token signed by a key it has not loaded yet.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import exists, insert, literal, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.core.clock import Clock, SystemClock
from bastion.core.db import Database
from bastion.core.ids import uuid7
from bastion.security.audit import AuditLog, AuditRecord
from bastion.security.crypto import SecretBox
from bastion.security.errors import SigningKeyNotFound
from bastion.security.jwt import Algorithm, KeyRing, RingKey
from bastion.security.models import SigningKey
from bastion.security.secrets import SecretRing

__all__ = ["KeyInfo", "KeyRingCache", "SigningKeyStore"]

log = structlog.get_logger("bastion.security")


@dataclass(frozen=True)
class KeyInfo:
    """What ``bastion keys list`` shows of a key: never its private material."""

    kid: str
    alg: str
    created_at: datetime
    retired_at: datetime | None


def _context(kid: str) -> bytes:
    # Binds the sealed material to its row: copied to another kid, it does not open.
    return f"bastion_signing_keys:{kid}".encode()


class SigningKeyStore:
    """The ``bastion_signing_keys`` table; private material sealed with ``box``."""

    def __init__(
        self,
        db: Database,
        box: SecretBox,
        clock: Clock | None = None,
        *,
        publish_delay: float = 0.0,
        leeway: float = 30.0,
        audit: AuditLog | None = None,
    ) -> None:
        self._db = db
        self._audit = audit
        self._box = box
        self._clock = clock or SystemClock()
        self._publish_delay = publish_delay
        self._leeway = leeway

    async def rotate(self, alg: Algorithm = "EdDSA") -> str:
        """Add a new key and return its kid; the first key signs at once, a later one
        once it is published (see :class:`~bastion.security.jwt.KeyRing`). Keys
        and named secrets (:class:`~bastion.security.secrets.SecretRing`) sealed with a
        previous secret key are re-sealed with the current one."""
        key = self._new_key(alg)
        async with self._db.session() as session:
            resealed = await self._reseal(session)
            resealed += await SecretRing(self._db, self._box, self._clock).reseal(session)
            session.add(self._row(key))
            await self._record(session, "security.signing_key_rotated", key.kid, resealed)
        log.info("security.signing_key_created", kid=key.kid, alg=alg, resealed=resealed)
        return key.kid

    async def _reseal(self, session: AsyncSession) -> int:
        rows = (await session.scalars(select(SigningKey))).all()
        stale = [row for row in rows if self._box.needs_reseal(row.private_material)]
        for row in stale:
            private = self._box.decrypt(row.private_material, context=_context(row.kid))
            row.private_material = self._box.encrypt(private, context=_context(row.kid))
        return len(stale)

    async def _record(self, session: AsyncSession, action: str, kid: str, resealed: int) -> None:
        if self._audit is not None:
            record = AuditRecord(action, target=f"kid:{kid}", data={"resealed": resealed})
            await self._audit.append(session, record)

    async def ensure_key(self, alg: Algorithm = "EdDSA") -> str | None:
        """Add a key only if no active key exists (one statement); the new kid, or None.

        Two processes starting together on an empty table may both add one: two
        valid keys, which is harmless.
        """
        key = self._new_key(alg)
        row = self._row(key)
        columns = ("kid", "alg", "private_material", "public_jwk", "created_at")
        values = select(
            *(literal(getattr(row, c), SigningKey.__table__.c[c].type) for c in columns)
        )
        active = exists().where(SigningKey.retired_at.is_(None))
        statement = insert(SigningKey).from_select(list(columns), values.where(~active))
        async with self._db.session() as session:
            created = (await session.execute(statement)).rowcount  # type: ignore[attr-defined]
        if created:
            log.info("security.signing_key_created", kid=key.kid, alg=alg)
            return key.kid
        return None

    async def retire(self, kid: str) -> None:
        """Stop ``kid`` signing and verifying; retiring a retired key changes nothing."""
        async with self._db.session() as session:
            result = await session.execute(
                update(SigningKey)
                .where(SigningKey.kid == kid, SigningKey.retired_at.is_(None))
                .values(retired_at=self._clock.now())
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                if await session.get(SigningKey, kid) is None:
                    raise SigningKeyNotFound(f"No signing key has the id {kid!r}.")
                return
            await self._record(session, "security.signing_key_retired", kid, 0)
        log.info("security.signing_key_retired", kid=kid)

    async def list_keys(self) -> list[KeyInfo]:
        """Every key, retired ones included, oldest first."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(
                    SigningKey.kid, SigningKey.alg, SigningKey.created_at, SigningKey.retired_at
                ).order_by(SigningKey.created_at, SigningKey.kid)
            )
            return [KeyInfo(*row) for row in rows]

    async def load_ring(self) -> KeyRing:
        """The active keys, unsealed; ``DecryptionFailed`` if the secret key was lost."""
        async with self._db.session() as session:
            rows = (
                await session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None)))
            ).all()
        keys = [
            RingKey(
                row.kid,
                "EdDSA" if row.alg == "EdDSA" else "HS256",
                self._box.decrypt(row.private_material, context=_context(row.kid)),
                row.created_at,
            )
            for row in rows
        ]
        return KeyRing(
            keys, clock=self._clock, publish_delay=self._publish_delay, leeway=self._leeway
        )

    def _new_key(self, alg: Algorithm) -> RingKey:
        # Time-ordered kids: keys made in the same instant still sort by age.
        return RingKey.generate(alg, kid=uuid7().hex, created_at=self._clock.now())

    def _row(self, key: RingKey) -> SigningKey:
        jwk = key.public_jwk()
        return SigningKey(
            kid=key.kid,
            alg=key.alg,
            private_material=self._box.encrypt(key.private, context=_context(key.kid)),
            public_jwk=None if jwk is None else json.dumps(jwk, sort_keys=True),
            created_at=key.created_at,
        )


class KeyRingCache:
    """The ring of one process, reloaded from the store at most every ``reload_seconds``.

    If a reload fails, the ring loaded last stays in use (logged as
    ``security.key_ring_reload_failed``) until the next interval.
    """

    def __init__(
        self, store: SigningKeyStore, reload_seconds: float = 30.0, clock: Clock | None = None
    ) -> None:
        self._store = store
        self._interval = timedelta(seconds=reload_seconds)
        self._clock = clock or SystemClock()
        self._ring: KeyRing | None = None
        self._expires: datetime | None = None
        self._lock = asyncio.Lock()

    async def ring(self) -> KeyRing:
        if self._fresh():
            assert self._ring is not None
            return self._ring
        async with self._lock:  # one reload at a time; the others wait for it
            if not self._fresh():
                await self._reload()
        assert self._ring is not None
        return self._ring

    def invalidate(self) -> None:
        """Reload on the next call (after this process rotated or retired a key)."""
        self._expires = None

    def _fresh(self) -> bool:
        return self._expires is not None and self._clock.now() < self._expires

    async def _reload(self) -> None:
        try:
            self._ring = await self._store.load_ring()
        except SQLAlchemyError as exc:
            if self._ring is None:
                raise
            log.warning("security.key_ring_reload_failed", error=str(exc))
        self._expires = self._clock.now() + self._interval
