"""The outbox relay on SQLite and PostgreSQL: delivery, retries, order, sharing."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bastion import Database, ManualClock
from bastion.ops.metrics import Metrics
from bastion.outbox import Message, OutboxMessage, OutboxSettings, Relay, add

pytestmark = pytest.mark.concurrency


async def write(db: Database, topic: str, payloads: list[tuple[str | None, object]]) -> None:
    async with db.session() as session:
        for key, payload in payloads:
            add(session, topic, payload, key=key)


async def statuses(db: Database) -> dict[str, int]:
    async with db.session() as session:
        rows = await session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
    return {status: count for status, count in rows.all()}


async def test_only_committed_messages_are_delivered(db: Database):
    seen: list[object] = []

    async def handle(message: Message) -> None:
        seen.append(message.payload)

    await write(db, "note", [(None, {"n": 1}), (None, {"n": 2})])

    async def rolled_back() -> None:
        async with db.session() as session:
            add(session, "note", {"n": 3})
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await rolled_back()
    metrics = Metrics()
    relay = Relay(db, {"note": handle}, metrics=metrics)
    assert await relay.run_once() == 2
    assert sorted(p["n"] for p in seen) == [1, 2]  # type: ignore[index]
    assert await relay.run_once() == 0
    assert await statuses(db) == {"sent": 2}
    await relay.refresh_backlog()
    text = metrics.render().decode()
    assert 'bastion_outbox_messages_total{outcome="sent",topic="note"} 2.0' in text
    assert "bastion_outbox_backlog_messages 0.0" in text
    assert "bastion_outbox_lag_seconds_count 2.0" in text


async def test_failures_retry_with_backoff_then_die_and_free_their_key(db: Database):
    clock = ManualClock(datetime.now(UTC) + timedelta(seconds=1))  # after the writes
    delivered: list[int] = []

    async def handle(message: Message) -> None:
        if message.payload["fail"]:
            raise ConnectionError("broker down")
        delivered.append(message.payload["n"])

    settings = OutboxSettings(max_attempts=3, backoff_seconds=10, backoff_max_seconds=15)
    relay = Relay(db, {"t": handle}, settings, clock=clock)
    await write(db, "t", [("k", {"n": 1, "fail": True}), ("k", {"n": 2, "fail": False})])
    assert await relay.run_once() == 1  # only the first of key k
    assert await relay.run_once() == 0  # not due: backoff 10 s; n=2 waits behind it
    clock.advance(seconds=10)
    assert await relay.run_once() == 1
    clock.advance(seconds=10)
    assert await relay.run_once() == 0  # second retry waits 15 s (20 capped)
    clock.advance(seconds=5)
    assert await relay.run_once() == 1  # third attempt: dead
    assert delivered == []
    async with db.session() as session:
        dead = await session.execute(select(OutboxMessage).where(OutboxMessage.status == "dead"))
        row = dead.scalar_one()
    assert row.attempts == 3 and row.last_error == "ConnectionError: broker down"
    assert await relay.run_once() == 1  # the key is free again
    assert delivered == [2]
    backlog = await relay.store.backlog()
    assert (backlog.pending, backlog.dead) == (0, 1)


async def test_a_topic_without_handler_is_retried(db: Database):
    await write(db, "unknown", [(None, {})])
    relay = Relay(db, {}, OutboxSettings(backoff_seconds=60))
    assert await relay.run_once() == 1
    assert await statuses(db) == {"pending": 1}
    backlog = await relay.store.backlog()
    assert backlog.pending == 1 and backlog.oldest_pending_age >= 0


async def _relay_all(db: Database, count: int, relays: int, keys: int) -> None:
    """``relays`` relays drain ``count`` messages over ``keys`` keys: each handled once,
    in order per key."""
    handled: dict[str, list[int]] = defaultdict(list)
    total = 0
    done = asyncio.Event()

    async def handle(message: Message) -> None:
        nonlocal total
        await asyncio.sleep(0)  # let the relays interleave
        handled[message.key or ""].append(message.payload)
        total += 1
        if total >= count:
            done.set()

    per_batch = 1000
    for start in range(0, count, per_batch):
        await write(
            db, "m", [(f"k{n % keys}", n) for n in range(start, min(count, start + per_batch))]
        )
    settings = OutboxSettings(batch_size=200, poll_seconds=0.05)
    stop = asyncio.Event()
    runs = [
        asyncio.create_task(Relay(db, {"m": handle}, settings).run(stop)) for _ in range(relays)
    ]
    await asyncio.wait_for(done.wait(), timeout=120)
    stop.set()
    await asyncio.gather(*runs)
    everything = sorted(n for values in handled.values() for n in values)
    assert everything == list(range(count))  # each exactly once
    for key, values in handled.items():
        assert values == sorted(values), f"key {key} out of order"
    assert await statuses(db) == {"sent": count}


async def test_three_relays_share_the_work(db: Database):
    await _relay_all(db, 1000, relays=3, keys=50)


@pytest.mark.postgres
async def test_ten_thousand_messages_three_relays_postgres(pg_db: Database):
    await _relay_all(pg_db, 10_000, relays=3, keys=100)


@pytest.mark.postgres
async def test_notify_wakes_an_idle_relay(pg_db: Database):
    arrived = asyncio.Event()

    async def handle(message: Message) -> None:
        arrived.set()

    stop = asyncio.Event()
    relay = Relay(pg_db, {"ping": handle}, OutboxSettings(poll_seconds=60))
    task = asyncio.create_task(relay.run(stop))
    await asyncio.sleep(0.5)  # the relay found nothing and sleeps for 60 s
    await write(pg_db, "ping", [(None, {})])
    await asyncio.wait_for(arrived.wait(), timeout=5)
    stop.set()
    await task


async def test_purge_deletes_old_sent_messages(db: Database):
    clock = ManualClock(datetime.now(UTC) + timedelta(seconds=1))  # after the writes

    async def handle(message: Message) -> None:
        return None

    relay = Relay(db, {"t": handle}, OutboxSettings(retention_seconds=3600), clock=clock)
    await write(db, "t", [(None, 1), (None, 2)])
    await relay.run_once()
    await write(db, "t", [(None, 3)])
    assert await relay.store.purge(3600) == (0, 0)
    clock.advance(seconds=3601)
    assert await relay.store.purge(3600) == (2, 0)
    assert await statuses(db) == {"pending": 1}


async def test_a_relay_survives_an_unreachable_database():
    db = Database("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere", connect_timeout=1)
    stop = asyncio.Event()
    relay = Relay(db, {}, OutboxSettings(poll_seconds=0.05))
    task = asyncio.create_task(relay.run(stop))
    await asyncio.sleep(0.3)
    assert not task.done()  # errors are logged and retried, not raised
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    await db.dispose()
