"""Account lockout: failed sign-ins counted per account and per client IP.

Counters live in the database, so every process sees the same lockout. A
failure is one ``INSERT ... ON CONFLICT DO UPDATE`` that restarts the window
when it has passed and returns the new count; reaching the threshold locks the
key for the next cooldown of the escalation (1, 5, 15, 60 min by default) in
the same transaction. A success deletes the account's counter. Writes happen in
their own transaction, so they stick although the login request fails.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog
from sqlalchemy import case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.auth.errors import LockedOut
from bastion.auth.models import Lockout
from bastion.core.clock import Clock
from bastion.core.db import Database
from bastion.core.db.upsert import insert_for

log = structlog.get_logger("bastion.auth")


class LockoutGuard:
    """Refuses sign-ins of locked keys and counts failures."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        window_seconds: int,
        cooldowns: Sequence[int],
    ) -> None:
        self.db = db
        self.clock = clock
        self.window = timedelta(seconds=window_seconds)
        self.cooldowns = tuple(cooldowns)

    async def check(self, *keys: str) -> None:
        """Raise :class:`LockedOut` (with ``Retry-After``) if any key is locked."""
        now = self.clock.now()
        async with self.db.session() as session:
            until = await session.scalar(
                select(Lockout.locked_until)
                .where(Lockout.key.in_(keys), Lockout.locked_until > now)
                .order_by(Lockout.locked_until.desc())
                .limit(1)
            )
        if until is not None:
            raise locked_error(until, now)

    async def record_failure(self, key: str, max_failures: int) -> datetime | None:
        """Count a failure of ``key``; the time it is locked until if this locked it."""
        now = self.clock.now()
        restart = Lockout.window_started_at < now - self.window
        upsert = insert_for(self.db.dialect)(Lockout).values(
            key=key, failures=1, window_started_at=now, level=0
        )
        statement = upsert.on_conflict_do_update(
            index_elements=[Lockout.key],
            set_={
                "failures": case((restart, 1), else_=Lockout.failures + 1),
                "window_started_at": case((restart, now), else_=Lockout.window_started_at),
            },
        ).returning(Lockout.failures, Lockout.level)
        async with self.db.session() as session:
            failures, level = (await session.execute(statement)).one()
            if failures < max_failures:
                return None
            until = now + timedelta(seconds=self.cooldowns[min(level, len(self.cooldowns) - 1)])
            await session.execute(
                update(Lockout)
                .where(Lockout.key == key)
                .values(failures=0, level=level + 1, locked_until=until, window_started_at=now)
            )
        log.warning("auth.locked_out", key=key, until=until.isoformat(), level=level + 1)
        return until

    async def reset(self, key: str, *, session: AsyncSession) -> None:
        """Forget ``key``'s failures and escalation, in the caller's transaction
        (the successful sign-in or password reset)."""
        await session.execute(delete(Lockout).where(Lockout.key == key))


def account_key(email: str) -> str:
    """The lockout key of an account (by normalised email, whether it exists or not)."""
    return f"account:{email}"


def ip_key(address: str) -> str:
    """The lockout key of a client IP."""
    return f"ip:{address}"


def locked_error(until: datetime, now: datetime) -> LockedOut:
    """The error for a key locked until ``until``, with ``Retry-After``."""
    seconds = max(1, math.ceil((until - now).total_seconds()))
    return LockedOut(
        f"Too many failed attempts; try again in {seconds} seconds.",
        headers={"Retry-After": str(seconds)},
    )
