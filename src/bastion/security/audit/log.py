"""``AuditLog``: append events to their chain, read them back, verify chains.

An append runs in the caller's transaction (the role change and its event
commit together) and takes the chain's turn first: an upsert of the chain's
head row, which locks that row on PostgreSQL and takes the writer lock on
SQLite. A second writer of the same chain waits there until the first commits,
then reads the new head: two events never follow the same one (a unique
constraint on ``(chain, prev_hash)`` backs this up). Hold the turn briefly:
append last in a transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, cast

import structlog
from sqlalchemy import Select, Table, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.core.clock import Clock, SystemClock
from bastion.core.context import principal_var, request_id_var
from bastion.core.db import Database
from bastion.core.db.upsert import insert_for
from bastion.core.ids import uuid7
from bastion.security.audit.chain import GENESIS, ChainBreak, ChainWalk, chain_of, event_hash
from bastion.security.audit.models import AuditChainHead, AuditEvent
from bastion.security.canonical import canonical_json

log = structlog.get_logger("bastion.audit")
VERIFY_BATCH = 1000
# Statements built once, with parameters: building them per append costs more than
# the round trips they make.
_EVENTS = cast(Table, AuditEvent.__table__)
_HEADS = cast(Table, AuditChainHead.__table__)
_INSERT = _EVENTS.insert()
_MOVE_HEAD = (
    _HEADS.update()
    .where(_HEADS.c.chain == bindparam("head_chain"))
    .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))
)
# PostgreSQL: the head moves in a CTE of the event's INSERT, one round trip.
_COLUMNS = [column.key for column in _EVENTS.columns]
# (The column names come from the table's definition, never from input.)
_INSERT_MOVING_HEAD = text(
    "WITH moved_head AS (UPDATE bastion_audit_chains SET seq = :head_seq, hash = :head_hash"  # noqa: S608
    " WHERE chain = :head_chain)"
    f" INSERT INTO bastion_audit_events ({', '.join(_COLUMNS)})"
    f" VALUES ({', '.join(':' + key for key in _COLUMNS)})"
).bindparams(*(bindparam(column.key, type_=column.type) for column in _EVENTS.columns))


@dataclass(frozen=True)
class AuditRecord:
    """What happened, as a caller describes it; ``actor`` defaults to the request's
    principal (``user:<id>``) or ``system``.

    >>> AuditRecord("org.member_removed", org_id=None, target="user:42").action
    'org.member_removed'
    """

    action: str
    actor: str | None = None
    org_id: uuid.UUID | None = None
    target: str = ""
    ip: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


class AuditSink(Protocol):
    """Receives every appended event, after the table has it."""

    def emit(self, event: AuditEvent) -> None: ...


class LogSink:
    """Writes each event as a structured log line (``event="audit.event"``)."""

    def emit(self, event: AuditEvent) -> None:
        log.info(
            "audit.event",
            audit_id=str(event.id),
            chain=event.chain,
            seq=event.seq,
            action=event.action,
            actor=event.actor,
            target=event.target,
            org_id=None if event.org_id is None else str(event.org_id),
            hash=event.hash,
        )


class AuditLog:
    """The app's audit log over ``bastion_audit_events``."""

    def __init__(
        self, db: Database, clock: Clock | None = None, sinks: Sequence[AuditSink] = ()
    ) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        self.sinks = tuple(sinks)
        self._turn: Any = None

    async def append(self, session: AsyncSession, record: AuditRecord) -> AuditEvent:
        """Add ``record`` to its chain in ``session``'s transaction."""
        chain = chain_of(record.org_id)
        seq, prev_hash = await self._take_turn(session, chain)
        event = AuditEvent(
            id=uuid7(),
            chain=chain,
            seq=seq + 1,
            org_id=record.org_id,
            occurred_at=self.clock.now(),
            actor=record.actor or _current_actor(),
            action=record.action,
            target=record.target,
            ip=record.ip,
            request_id=request_id_var.get() or "",
            data=canonical_json(dict(record.data)).decode(),
            prev_hash=prev_hash,
        )
        event.hash = event_hash(event)
        row = {key: getattr(event, key) for key in _COLUMNS}
        head = {"head_chain": chain, "head_seq": event.seq, "head_hash": event.hash}
        if self.db.dialect == "postgresql":
            await session.execute(_INSERT_MOVING_HEAD, row | head)
        else:
            await session.execute(_MOVE_HEAD, head)
            await session.execute(_INSERT, row)
        for sink in self.sinks:
            sink.emit(event)
        return event

    async def record(self, record: AuditRecord) -> AuditEvent:
        """Add ``record`` in a transaction of its own (for events that must stick
        although the request fails: a refused login, a lockout)."""
        async with self.db.session() as session:
            return await self.append(session, record)

    async def _take_turn(self, session: AsyncSession, chain: str) -> tuple[int, str]:
        statement = self._turn
        if statement is None:
            upsert = insert_for(self.db.dialect)(_HEADS).values(
                chain=bindparam("chain"), seq=0, hash=GENESIS
            )
            statement = self._turn = upsert.on_conflict_do_update(
                index_elements=[_HEADS.c.chain], set_={"seq": _HEADS.c.seq}
            ).returning(_HEADS.c.seq, _HEADS.c.hash)
        seq, head = (await session.execute(statement, {"chain": chain})).one()
        return int(seq), str(head)

    def events(
        self,
        org_id: uuid.UUID | None,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Select[Any]:
        """A query over one chain's events with the given filters (for ``paginate``)."""
        query = select(AuditEvent).where(AuditEvent.chain == chain_of(org_id))
        if actor is not None:
            query = query.where(AuditEvent.actor == actor)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        if since is not None:
            query = query.where(AuditEvent.occurred_at >= since)
        if until is not None:
            query = query.where(AuditEvent.occurred_at < until)
        return query

    async def chains(self) -> list[str]:
        """Every chain with a head, ``system`` first."""
        async with self.db.session() as session:
            names = (await session.scalars(select(AuditChainHead.chain))).all()
        return sorted(names, key=lambda name: (name != "system", name))

    async def verify(self, chain: str) -> ChainBreak | None:
        """Walk ``chain`` from its first event; the first break, or ``None``."""
        walk = ChainWalk(chain)
        async with self.db.session() as session:
            head = (
                await session.execute(
                    select(AuditChainHead.seq, AuditChainHead.hash).where(
                        AuditChainHead.chain == chain
                    )
                )
            ).first()
            after = -1
            while True:
                batch = (
                    await session.scalars(
                        select(AuditEvent)
                        .where(AuditEvent.chain == chain, AuditEvent.seq > after)
                        .order_by(AuditEvent.seq)
                        .limit(VERIFY_BATCH)
                    )
                ).all()
                if not batch:
                    break
                if walk.feed(batch) is not None:
                    return walk.broken
                after = batch[-1].seq
                session.expunge_all()
        return walk.end(*(head if head is not None else (None, None)))


def _current_actor() -> str:
    principal = principal_var.get()
    subject = getattr(principal, "subject", None)
    return str(subject) if subject else "system"
