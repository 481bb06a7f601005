"""The audit hash chain: whatever is altered, deleted or moved, verify finds it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from bastion.core.clock import ManualClock
from bastion.core.db import Base, Database
from bastion.security.audit import AuditChainHead, AuditEvent, AuditLog, AuditRecord, chain_of
from bastion.security.canonical import canonical_json

pytestmark = [pytest.mark.security, pytest.mark.db]

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
RECORDS = st.lists(
    st.builds(
        AuditRecord,
        action=st.from_regex(r"[a-z]{1,8}\.[a-z_]{1,10}", fullmatch=True),
        actor=st.from_regex(r"user:[0-9a-f]{1,8}", fullmatch=True),
        target=TEXT,
        ip=st.ip_addresses().map(str),
        data=st.dictionaries(TEXT, st.integers() | TEXT | st.booleans() | st.none(), max_size=3),
    ),
    min_size=1,
    max_size=8,
)
FIELDS = [
    "id",
    "chain",
    "seq",
    "org_id",
    "occurred_at",
    "actor",
    "action",
    "target",
    "ip",
    "request_id",
    "data",
    "prev_hash",
    "hash",
]


def _different(field: str, old: object, seqs: set[int]) -> st.SearchStrategy[object]:
    """A value for ``field`` other than ``old`` that the table accepts."""
    strategy: st.SearchStrategy[object] = {
        "id": st.builds(uuid.uuid4),  # fresh: ids of earlier examples share the table
        "chain": st.just("org:" + str(uuid.uuid4())),
        "seq": st.integers(-3, 20).filter(lambda s: s not in seqs),
        "org_id": st.none() | st.builds(uuid.uuid4),
        "occurred_at": st.integers(1, 10**9).map(lambda us: old + timedelta(microseconds=us)),
        "data": st.dictionaries(TEXT, TEXT, max_size=2).map(lambda d: canonical_json(d).decode()),
        "prev_hash": st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
        "hash": st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
    }.get(field, TEXT)
    return strategy.filter(lambda new: new != old)


@pytest.fixture(scope="module")
def audit_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("audit") / "audit.db"
    url = f"sqlite+aiosqlite:///{path}"

    async def create() -> None:
        db = Database(url)
        async with db.engine.begin() as conn:
            tables = [AuditEvent.__table__, AuditChainHead.__table__]
            await conn.run_sync(lambda c: Base.metadata.create_all(c, tables=tables))
        await db.dispose()

    asyncio.run(create())
    return url


async def _append(db: Database, records: list[AuditRecord]) -> tuple[uuid.UUID, list[AuditEvent]]:
    org_id = uuid.uuid4()
    log = AuditLog(db, ManualClock(datetime(2026, 1, 1, tzinfo=UTC)))
    events = []
    for record in records:
        async with db.session() as session:
            events.append(await log.append(session, _for_org(record, org_id)))
    return org_id, events


def _for_org(record: AuditRecord, org_id: uuid.UUID) -> AuditRecord:
    return AuditRecord(record.action, record.actor, org_id, record.target, record.ip, record.data)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=RECORDS, data=st.data())
def test_verify_detects_any_alteration_deletion_or_move(audit_db, records, data):
    kind = data.draw(st.sampled_from(["alter", "delete", "move"][: 3 if len(records) > 1 else 2]))

    async def scenario() -> str:
        db = Database(audit_db)
        try:
            org_id, events = await _append(db, records)
            log = AuditLog(db)
            chain = chain_of(org_id)
            assert await log.verify(chain) is None
            victim = data.draw(st.sampled_from(events))
            by_id = AuditEvent.id == victim.id
            async with db.session() as session:
                if kind == "delete":
                    await session.execute(delete(AuditEvent).where(by_id))
                elif kind == "move":
                    other = data.draw(st.sampled_from([e for e in events if e.id != victim.id]))
                    for event_id, seq in (
                        (victim.id, -99),
                        (other.id, victim.seq),
                        (victim.id, other.seq),
                    ):
                        await session.execute(
                            update(AuditEvent).where(AuditEvent.id == event_id).values(seq=seq)
                        )
                else:
                    field = data.draw(st.sampled_from(FIELDS))
                    old = getattr(victim, field)
                    seqs = {e.seq for e in events}
                    new = data.draw(_different(field, old, seqs))
                    await session.execute(update(AuditEvent).where(by_id).values({field: new}))
            broken = await log.verify(chain)
            assert broken is not None, f"{kind} of event seq {victim.seq} went unnoticed"
            return str(broken)
        finally:
            await db.dispose()

    outcome = asyncio.run(scenario())
    assert outcome


def test_verify_names_the_first_broken_event(audit_db):
    async def scenario() -> None:
        db = Database(audit_db)
        try:
            records = [AuditRecord(f"test.event_{i}", "user:1") for i in range(5)]
            org_id, events = await _append(db, records)
            async with db.session() as session:
                await session.execute(
                    update(AuditEvent).where(AuditEvent.id == events[2].id).values(actor="user:2")
                )
            broken = await AuditLog(db).verify(chain_of(org_id))
            assert broken is not None
            assert broken.event_id == events[2].id and broken.seq == 3
            assert "altered" in broken.reason
            async with db.session() as session:
                heads = await session.scalars(select(AuditChainHead.seq))
                assert 5 in heads.all()
        finally:
            await db.dispose()

    asyncio.run(scenario())
