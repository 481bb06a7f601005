"""The worker on the memory store: timeouts, unrunnable jobs, context, companions."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from bastion.jobs import JobContext, JobQueue, JobsRegistry, MemoryJobStore, Worker, WorkerOptions
from bastion.jobs.store import NewJob

pytestmark = pytest.mark.jobs


class Payload(BaseModel):
    n: int


def burst(queue: JobQueue) -> asyncio.Future[None]:
    worker = Worker(queue, WorkerOptions(concurrency=4, poll=0.01))
    return asyncio.ensure_future(worker.run(asyncio.Event(), burst=True))


async def test_timeout_counts_as_a_failed_attempt() -> None:
    jobs = JobsRegistry()

    @jobs.task(timeout=0.05, retries=0)
    async def hang(payload: Payload) -> None:
        await asyncio.sleep(10)

    queue = JobQueue(MemoryJobStore(), jobs)
    job_id = await queue.enqueue(hang, Payload(n=1))
    await burst(queue)
    job = await queue.get(job_id)
    assert job.state == "dead"
    assert "ran past its timeout" in (job.error or "")


async def test_unknown_task_and_bad_payload_go_straight_to_dead_letters() -> None:
    jobs = JobsRegistry()

    @jobs.task(retries=5)
    async def typed(payload: Payload) -> None: ...

    store = MemoryJobStore()
    queue = JobQueue(store, jobs)
    for job_id, task, payload in (("a", "gone", "{}"), ("b", "typed", '{"n": "x"}')):
        await store.enqueue(NewJob(job_id, task, "default", payload, 0, 0.0, 0.0, 6))
    await burst(queue)
    gone, bad = await queue.get("a"), await queue.get("b")
    assert (gone.state, gone.attempts) == ("dead", 1)
    assert "No task is registered as 'gone'" in (gone.error or "")
    assert (bad.state, bad.attempts) == ("dead", 1)
    assert "validation error" in (bad.error or "")


async def test_handler_gets_its_context_and_companions_run_beside() -> None:
    jobs = JobsRegistry()
    seen: list[tuple[str, int, int]] = []
    companion_ran = asyncio.Event()

    @jobs.task(retries=2)
    async def look(payload: Payload, context: JobContext) -> None:
        seen.append((context.job_id, context.attempt, context.max_attempts))
        if payload.n:  # a handler enqueues a follow-up through its context
            await context.queue.enqueue("look", Payload(n=payload.n - 1))

    async def companion(context: JobContext) -> None:
        companion_ran.set()
        await asyncio.Event().wait()

    jobs.companion("watcher", companion)
    queue = JobQueue(MemoryJobStore(), jobs)
    job_id = await queue.enqueue(look, Payload(n=1))
    stop = asyncio.Event()
    worker = asyncio.create_task(Worker(queue, WorkerOptions(concurrency=2, poll=0.01)).run(stop))
    while len(seen) < 2:
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(worker, 2)
    assert companion_ran.is_set()
    assert seen[0] == (job_id, 1, 3)
    assert seen[1][0] != job_id
