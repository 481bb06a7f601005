"""The outbox's SQL: claim a batch, mark it, count the backlog, purge.

Claiming is one ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING``: it
takes a lease (``locked_until``, ``locked_by``) on pending rows that are due,
not leased, and first of their key among the pending ones. On PostgreSQL the
inner ``SELECT`` is ``FOR UPDATE SKIP LOCKED``, so concurrent relays take
different rows without waiting on each other; SQLite runs one writer at a time.
Marks check ``locked_by``: a relay whose lease ran out cannot mark a message
another relay now holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Table,
    and_,
    any_,
    delete,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from bastion.core.clock import Clock, SystemClock
from bastion.core.db import Database
from bastion.outbox.models import DEAD, PENDING, SENT, InboxEntry, OutboxMessage

_O: Table = OutboxMessage.__table__  # type: ignore[assignment]
_EARLIER = _O.alias("earlier")
# Literals, not parameters: the planner matches them to the partial indexes' predicates
# (with a bound parameter, PostgreSQL's generic plans could not use those indexes).
_IS_PENDING = _O.c.status == literal_column(f"'{PENDING}'")
_IS_DEAD = _O.c.status == literal_column(f"'{DEAD}'")


@dataclass(frozen=True)
class Message:
    """A message as a handler receives it."""

    id: int
    topic: str
    key: str | None
    payload: Any
    created_at: datetime
    attempts: int


@dataclass(frozen=True)
class Backlog:
    """Pending and dead messages, and the age of the oldest pending one (seconds)."""

    pending: int
    dead: int
    oldest_pending_age: float


class OutboxStore:
    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        self.skip_locked = db.dialect == "postgresql"

    async def claim(self, limit: int, *, lease: float, token: str) -> list[Message]:
        """Lease up to ``limit`` due messages to ``token``; oldest first."""
        now = self.clock.now()
        first_of_key = or_(
            _O.c.key.is_(None),
            ~exists().where(
                _EARLIER.c.key == _O.c.key,
                _EARLIER.c.id < _O.c.id,
                _EARLIER.c.status == literal_column(f"'{PENDING}'"),
            ),
        )
        due = (
            select(_O.c.id)
            .where(
                _IS_PENDING,
                _O.c.available_at <= now,
                or_(_O.c.locked_until.is_(None), _O.c.locked_until <= now),
                first_of_key,
            )
            .order_by(_O.c.id)
            .limit(limit)
        )
        if self.skip_locked:
            due = due.with_for_update(skip_locked=True)
        statement = (
            update(_O)
            .where(_O.c.id.in_(due.scalar_subquery()))
            .values(
                locked_until=now + timedelta(seconds=lease),
                locked_by=token,
                attempts=_O.c.attempts + 1,
            )
            .returning(_O.c.id, _O.c.topic, _O.c.key, _O.c.payload, _O.c.created_at, _O.c.attempts)
        )
        async with self.db.session() as session:
            rows = (await session.execute(statement)).all()
        return sorted((Message(*row) for row in rows), key=lambda m: m.id)

    async def mark_sent(self, ids: Sequence[int], token: str) -> int:
        """Mark delivered messages sent; returns how many were still ``token``'s."""
        if not ids:
            return 0
        statement = (
            update(_O)
            .where(self._among(ids), _O.c.locked_by == token)
            .values(status=SENT, sent_at=self.clock.now(), locked_until=None, locked_by=None)
        )
        async with self.db.session() as session:
            result = await session.execute(statement)
        return int(getattr(result, "rowcount", 0))

    def _among(self, ids: Sequence[int]) -> ColumnElement[bool]:
        # PostgreSQL: one array parameter, so every batch size shares one prepared
        # statement (``IN`` would prepare and plan a new one per distinct length).
        if self.skip_locked:
            return _O.c.id == any_(literal(list(ids), ARRAY(BigInteger())))
        return _O.c.id.in_(ids)

    async def mark_failed(
        self, message: Message, token: str, error: str, *, retry_in: float | None
    ) -> None:
        """Put a failed message back for a retry in ``retry_in`` seconds, or dead when None."""
        values: dict[str, Any] = {"locked_until": None, "locked_by": None, "last_error": error}
        if retry_in is None:
            values["status"] = DEAD
        else:
            values["available_at"] = self.clock.now() + timedelta(seconds=retry_in)
        statement = update(_O).where(_O.c.id == message.id, _O.c.locked_by == token).values(values)
        async with self.db.session() as session:
            await session.execute(statement)

    async def bury(self, max_attempts: int) -> int:
        """Mark dead the messages whose last allowed delivery never finished (the relay
        died with them, ``max_attempts`` times)."""
        now = self.clock.now()
        statement = (
            update(_O)
            .where(
                _IS_PENDING,
                _O.c.attempts >= max_attempts,
                _O.c.locked_until <= now,
            )
            .values(status=DEAD, locked_until=None, locked_by=None, last_error="lease expired")
        )
        async with self.db.session() as session:
            result = await session.execute(statement)
        return int(getattr(result, "rowcount", 0))

    async def backlog(self) -> Backlog:
        pending_rows = select(func.count(), func.min(_O.c.created_at)).where(_IS_PENDING)
        dead_rows = select(func.count()).select_from(_O).where(_IS_DEAD)
        async with self.db.session() as session:
            pending, oldest = (await session.execute(pending_rows)).one()
            dead = (await session.execute(dead_rows)).scalar_one()
        age = (self.clock.now() - oldest).total_seconds() if oldest is not None else 0.0
        return Backlog(int(pending), int(dead), max(0.0, age))

    async def purge(self, retention: float) -> tuple[int, int]:
        """Delete sent messages and inbox entries older than ``retention`` seconds."""
        before = self.clock.now() - timedelta(seconds=retention)
        async with self.db.session() as session:
            sent = await session.execute(
                delete(_O).where(and_(_O.c.status == SENT, _O.c.sent_at < before))
            )
            seen = await session.execute(delete(InboxEntry).where(InboxEntry.processed_at < before))
        return int(getattr(sent, "rowcount", 0)), int(getattr(seen, "rowcount", 0))
