"""The audit log on PostgreSQL: concurrent writers keep one chain; rows cannot change."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from bastion.core.db import Database
from bastion.lifecycle import migrations
from bastion.security.audit import AuditEvent, AuditLog, AuditRecord, chain_of

pytestmark = [pytest.mark.security, pytest.mark.postgres, pytest.mark.concurrency]


@pytest.fixture
async def db(postgres_url):
    database = Database(postgres_url, pool_size=10)
    await migrations.upgrade(database)
    yield database
    await database.dispose()


async def test_concurrent_writers_leave_one_unbroken_chain(db):
    log = AuditLog(db)
    org_id = uuid.uuid4()

    async def writer(n: int) -> None:
        for i in range(500):
            await log.record(AuditRecord("test.append", f"writer:{n}", org_id, data={"i": i}))

    await asyncio.gather(*(writer(n) for n in range(8)))
    assert await log.verify(chain_of(org_id)) is None
    async with db.session() as session:
        count, distinct_prev, top = (
            await session.execute(
                select(
                    func.count(),
                    func.count(func.distinct(AuditEvent.prev_hash)),
                    func.max(AuditEvent.seq),
                ).where(AuditEvent.chain == chain_of(org_id))
            )
        ).one()
    assert (count, distinct_prev, top) == (4000, 4000, 4000)


async def test_update_and_delete_are_refused(db):
    log = AuditLog(db)
    event = await log.record(AuditRecord("test.kept", "user:1"))
    for statement in (
        "UPDATE bastion_audit_events SET actor = 'user:2'",
        "DELETE FROM bastion_audit_events",
        "TRUNCATE bastion_audit_events",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.session() as session:
                await session.execute(text(statement))
    async with db.session() as session:
        kept = await session.get(AuditEvent, event.id)
    assert kept is not None and kept.actor == "user:1"
    assert await log.verify("system") is None
