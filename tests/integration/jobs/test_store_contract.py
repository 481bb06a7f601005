"""The job store contract, run on every backend: memory, SQLite, PostgreSQL, Redis.

Time is a manual clock: the stores take the caller's time, so delays, leases,
backoff and cron ticks are exact.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from pydantic import BaseModel

from bastion import ConfigurationError, ManualClock
from bastion.jobs import (
    Empty,
    JobNotFound,
    JobQueue,
    JobsRegistry,
    JobStore,
    Scheduler,
    SqlJobStore,
    Worker,
    WorkerOptions,
    exponential,
)
from tests.integration.jobs.conftest import StoreFactory

pytestmark = pytest.mark.jobs


class Note(BaseModel):
    text: str


class Calls:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.fail = True


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def registry(calls: Calls) -> JobsRegistry:
    jobs = JobsRegistry()

    @jobs.task(queue="default")
    async def note(payload: Note) -> None:
        calls.seen.append(payload.text)

    @jobs.task(retries=2, backoff=exponential(base=10, max=15, jitter=False))
    async def flaky(payload: Note) -> None:
        calls.seen.append(payload.text)
        if calls.fail:
            raise RuntimeError(f"boom {payload.text}")

    @jobs.cron("*/5 * * * *")
    async def tidy(payload: Empty) -> None:
        calls.seen.append("tidy")

    return jobs


@pytest.fixture
def queue(store: JobStore, registry: JobsRegistry, clock: ManualClock) -> JobQueue:
    return JobQueue(store, registry, clock=clock)


def worker(queue: JobQueue, **options: object) -> Worker:
    return Worker(queue, WorkerOptions(**{"poll": 0.01, "grace": 1.0, **options}))  # type: ignore[arg-type]


async def drain(queue: JobQueue) -> None:
    await worker(queue).run(asyncio.Event(), burst=True)


def now(clock: ManualClock) -> float:
    return clock.now().timestamp()


async def take(store: JobStore, clock: ManualClock) -> list[str]:
    """Claim and acknowledge every due job; their ids."""
    claimed = await store.claim(["default"], "w", now=now(clock), lease=30, limit=50)
    for job in claimed:
        assert await store.ack(job.id, "w", now=now(clock))
    return [job.id for job in claimed]


async def test_enqueue_claim_ack(queue: JobQueue, store: JobStore, clock: ManualClock) -> None:
    job_id = await queue.enqueue("note", Note(text="a"))
    info = await queue.get(job_id)
    assert (info.state, info.attempts, info.task, info.queue) == ("queued", 0, "note", "default")
    assert Note.model_validate_json(info.payload).text == "a"

    claimed = await store.claim(["default"], "w1", now=now(clock), lease=30, limit=10)
    assert [(j.id, j.attempt, j.task) for j in claimed] == [(job_id, 1, "note")]
    assert await store.claim(["default"], "w2", now=now(clock), lease=30, limit=10) == []
    assert (await queue.get(job_id)).state == "running"

    assert not await store.ack(job_id, "w2", now=now(clock))  # not its job
    assert await store.ack(job_id, "w1", now=now(clock))
    done = await queue.get(job_id)
    assert (done.state, done.attempts, done.finished_at) == ("done", 1, now(clock))
    assert not await store.ack(job_id, "w1", now=now(clock))  # once


async def test_unknown_job_and_task(queue: JobQueue) -> None:
    with pytest.raises(JobNotFound):
        await queue.get("0190c1d2-0000-7000-8000-000000000000")
    with pytest.raises(Exception, match="No task is registered"):
        await queue.enqueue("nope", {})


async def test_claim_only_from_the_queues_asked(queue: JobQueue, store: JobStore, clock) -> None:
    mail = await queue.enqueue("note", Note(text="m"), queue="mail")
    assert await store.claim(["default"], "w", now=now(clock), lease=30, limit=5) == []
    claimed = await store.claim(["default", "mail"], "w", now=now(clock), lease=30, limit=5)
    assert [j.id for j in claimed] == [mail]
    assert claimed[0].queue == "mail"


async def test_delay_and_run_at(queue: JobQueue, store: JobStore, clock: ManualClock) -> None:
    later = await queue.enqueue("note", Note(text="later"), delay=60)
    at = await queue.enqueue("note", Note(text="at"), run_at=clock.now() + timedelta(minutes=5))
    assert await store.claim(["default"], "w", now=now(clock), lease=30, limit=5) == []
    clock.advance(seconds=60)
    assert await take(store, clock) == [later]
    clock.advance(seconds=239)
    assert await take(store, clock) == []
    clock.advance(seconds=1)
    assert await take(store, clock) == [at]


async def test_priorities_then_fifo(queue: JobQueue, store: JobStore, clock: ManualClock) -> None:
    ids = {}
    for name, priority in [("low", -5), ("first", 0), ("urgent", 10), ("second", 0)]:
        ids[name] = await queue.enqueue("note", Note(text=name), priority=priority)
        clock.advance(seconds=1)
    order = []
    for _ in range(4):
        (job,) = await store.claim(["default"], "w", now=now(clock), lease=30, limit=1)
        order.append(job.id)
    assert order == [ids["urgent"], ids["first"], ids["second"], ids["low"]]


async def test_retries_with_backoff_then_dead_letters_then_retry(
    queue: JobQueue, clock: ManualClock, calls: Calls
) -> None:
    job_id = await queue.enqueue("flaky", Note(text="x"))
    await drain(queue)
    first = await queue.get(job_id)
    assert (first.state, first.attempts) == ("queued", 1)
    assert first.run_at == now(clock) + 10  # base 10 s, no jitter
    assert "RuntimeError: boom x" in (first.error or "")

    clock.advance(seconds=9.5)
    await drain(queue)
    assert calls.seen == ["x"]  # not due yet
    clock.advance(seconds=0.5)
    await drain(queue)
    second = await queue.get(job_id)
    assert (second.attempts, second.run_at) == (2, now(clock) + 15)  # 20 s, capped at 15

    clock.advance(seconds=15)
    await drain(queue)  # third and last attempt
    dead = await queue.get(job_id)
    assert (dead.state, dead.attempts) == ("dead", 3)
    assert "Traceback" in (dead.error or "") and "boom x" in (dead.error or "")
    assert [j.id for j in await queue.dead()] == [job_id]
    assert calls.seen == ["x", "x", "x"]

    calls.fail = False
    assert await queue.retry_dead([job_id]) == 1
    revived = await queue.get(job_id)
    assert (revived.state, revived.attempts) == ("queued", 0)
    assert await queue.dead() == []
    await drain(queue)
    assert (await queue.get(job_id)).state == "done"


async def test_purge_dead_letters(queue: JobQueue, clock: ManualClock) -> None:
    doomed = [await queue.enqueue("flaky", Note(text=str(i))) for i in range(2)]
    for _ in range(3):
        await drain(queue)
        clock.advance(seconds=30)
    assert {j.id for j in await queue.dead()} == set(doomed)
    assert await queue.purge_dead([doomed[0]]) == 1
    assert [j.id for j in await queue.dead()] == [doomed[1]]
    assert await queue.purge_dead() == 1
    assert await queue.dead() == []
    with pytest.raises(JobNotFound):
        await queue.get(doomed[0])


async def test_dedupe_while_queued_or_running(
    queue: JobQueue, store: JobStore, clock: ManualClock
) -> None:
    first = await queue.enqueue("note", Note(text="a"), dedupe_key="k")
    assert await queue.enqueue("note", Note(text="b"), dedupe_key="k") == first
    (claimed,) = await store.claim(["default"], "w", now=now(clock), lease=30, limit=5)
    assert await queue.enqueue("note", Note(text="c"), dedupe_key="k") == first
    await store.ack(claimed.id, "w", now=now(clock))
    fresh = await queue.enqueue("note", Note(text="d"), dedupe_key="k")
    assert fresh != first
    assert await queue.enqueue("note", Note(text="e"), dedupe_key="other") != fresh


async def test_transactional_enqueue(queue: JobQueue, store: JobStore) -> None:
    """SQL: the job exists only if the caller's transaction commits; elsewhere, refused."""
    if not isinstance(store, SqlJobStore):
        with pytest.raises(ConfigurationError, match="BACKEND=sql"):
            await queue.enqueue("note", Note(text="x"), session=object())
        return
    async with store.db.sessionmaker() as session:
        rolled_back = await queue.enqueue("note", Note(text="no"), session=session)
        await session.rollback()
    async with store.db.sessionmaker() as session:
        committed = await queue.enqueue("note", Note(text="yes"), session=session)
        await session.commit()
    with pytest.raises(JobNotFound):
        await queue.get(rolled_back)
    assert (await queue.get(committed)).state == "queued"


async def test_concurrent_dedupe_stores_one_job(new_store: StoreFactory, registry, clock) -> None:
    queues = [JobQueue(await new_store(), registry, clock=clock) for _ in range(3)]
    ids = await asyncio.gather(
        *(q.enqueue("note", Note(text=str(i)), dedupe_key="race") for i, q in enumerate(queues * 3))
    )
    assert len(set(ids)) == 1


async def test_expired_lease_is_claimed_again(
    queue: JobQueue, store: JobStore, clock: ManualClock
) -> None:
    job_id = await queue.enqueue("note", Note(text="a"))
    await store.claim(["default"], "dead-worker", now=now(clock), lease=30, limit=5)
    clock.advance(seconds=20)
    assert await store.extend([job_id, "missing"], "dead-worker", until=now(clock) + 30) == [
        "missing"
    ]
    clock.advance(seconds=29)
    assert await store.claim(["default"], "w2", now=now(clock), lease=30, limit=5) == []
    clock.advance(seconds=2)  # the renewed lease ran out
    (again,) = await store.claim(["default"], "w2", now=now(clock), lease=30, limit=5)
    assert (again.id, again.attempt) == (job_id, 2)
    assert await store.extend([job_id], "dead-worker", until=now(clock) + 30) == [job_id]
    assert not await store.ack(job_id, "dead-worker", now=now(clock))
    assert await store.ack(job_id, "w2", now=now(clock))


async def test_a_job_that_keeps_losing_its_lease_is_buried(
    queue: JobQueue, store: JobStore, clock: ManualClock, calls: Calls
) -> None:
    job_id = await queue.enqueue("flaky", Note(text="poison"))  # 3 attempts
    for _ in range(3):  # each time its worker dies under it
        assert await store.claim(["default"], "doomed", now=now(clock), lease=30, limit=5)
        clock.advance(seconds=31)
    await drain(queue)
    job = await queue.get(job_id)
    assert (job.state, job.attempts) == ("dead", 4)
    assert "lease lost 3 times" in (job.error or "")
    assert calls.seen == []  # not run a fourth time


async def test_release_uncounts_the_attempt(
    queue: JobQueue, store: JobStore, clock: ManualClock
) -> None:
    job_id = await queue.enqueue("note", Note(text="a"))
    await store.claim(["default"], "w", now=now(clock), lease=30, limit=5)
    assert await store.release(job_id, "w")
    info = await queue.get(job_id)
    assert (info.state, info.attempts) == ("queued", 0)
    (again,) = await store.claim(["default"], "w", now=now(clock), lease=30, limit=5)
    assert again.attempt == 1


async def test_stats_and_finished_cleanup(
    queue: JobQueue, store: JobStore, clock: ManualClock
) -> None:
    await queue.enqueue("note", Note(text="due"))
    await queue.enqueue("note", Note(text="later"), delay=600)
    running = await queue.enqueue("note", Note(text="run"), priority=5)
    (claimed,) = await store.claim(["default"], "w", now=now(clock), lease=30, limit=1)
    assert claimed.id == running
    (row,) = await queue.stats()
    assert (row.queue, row.queued, row.scheduled, row.running, row.dead) == ("default", 1, 1, 1, 0)

    await store.ack(running, "w", now=now(clock))
    clock.advance(hours=2)
    assert await store.delete_finished(before=now(clock) - 3600) == 1
    with pytest.raises(JobNotFound):
        await queue.get(running)


async def test_cron_ticks_exactly_once_with_three_schedulers(
    new_store: StoreFactory, registry: JobsRegistry, clock: ManualClock
) -> None:
    schedulers = [
        Scheduler(JobQueue(await new_store(), registry, clock=clock), lateness=60) for _ in range(3)
    ]

    async def race() -> list[str]:
        results = await asyncio.gather(*(s.tick() for s in schedulers))
        return [job_id for found in results for job_id in found]

    assert len(await race()) == 1  # 09:00, a tick first seen while recent
    clock.advance(seconds=30)
    assert await race() == []
    clock.advance(minutes=4, seconds=30)  # 09:05
    assert len(await race()) == 1
    clock.advance(hours=3, seconds=10)  # downtime: 36 ticks missed, caught up once
    assert len(await race()) == 1
    assert await race() == []
    (row,) = await schedulers[0].queue.stats()
    assert row.queued == 3


async def test_cron_skip_policy_and_first_sight(
    store: JobStore, registry: JobsRegistry, clock: ManualClock
) -> None:
    clock.advance(minutes=3)  # 09:03: the 09:00 tick is already late
    scheduler = Scheduler(JobQueue(store, registry, clock=clock), catch_up="skip", lateness=60)
    assert await scheduler.tick() == []  # first sight of a late tick: not run
    clock.advance(hours=1)
    assert await scheduler.tick() == []  # missed ticks skipped
    clock.advance(minutes=2)  # 10:05 exactly
    assert len(await scheduler.tick()) == 1


async def test_run_scheduled_now(queue: JobQueue, calls: Calls) -> None:
    job_id = await queue.run_scheduled("tidy")
    await drain(queue)
    assert (await queue.get(job_id)).state == "done"
    assert calls.seen == ["tidy"]


async def test_graceful_shutdown_finishes_or_releases(store: JobStore, clock: ManualClock) -> None:
    jobs = JobsRegistry()
    started: list[str] = []

    @jobs.task()
    async def slow(payload: Note) -> None:
        started.append(payload.text)
        await asyncio.sleep(0.2 if payload.text == "quick" else 60)

    queue = JobQueue(store, jobs, clock=clock)
    quick = await queue.enqueue("slow", Note(text="quick"))
    stuck = await queue.enqueue("slow", Note(text="stuck"))
    stop = asyncio.Event()
    run = asyncio.create_task(worker(queue, grace=0.6).run(stop))
    while len(started) < 2:
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(run, 5)
    assert (await queue.get(quick)).state == "done"
    released = await queue.get(stuck)
    assert (released.state, released.attempts) == ("queued", 0)
