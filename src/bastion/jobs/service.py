"""The app's handle on its queue: enqueue, look up, and manage dead letters.

>>> import asyncio
>>> from pydantic import BaseModel
>>> from bastion.jobs import JobQueue, JobsRegistry, MemoryJobStore
>>> registry = JobsRegistry()
>>> class Ping(BaseModel):
...     n: int
>>> @registry.task()
... async def ping(payload: Ping) -> None: ...
>>> async def main():
...     queue = JobQueue(MemoryJobStore(), registry)
...     job_id = await queue.enqueue(ping, Ping(n=1), dedupe_key="ping-1")
...     again = await queue.enqueue(ping, Ping(n=1), dedupe_key="ping-1")
...     return job_id == again, (await queue.get(job_id)).state
>>> asyncio.run(main())
(True, 'queued')
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from pydantic import BaseModel

from bastion.core.clock import Clock, SystemClock
from bastion.core.ids import uuid7
from bastion.jobs.errors import JobNotFound
from bastion.jobs.registry import JobsRegistry, Task
from bastion.jobs.store import JobInfo, JobStore, NewJob, QueueStats

log = structlog.get_logger("bastion.jobs")
MAX_PRIORITY = 1000


class JobQueue:
    """Enqueue jobs and query them; kept at ``app.state.bastion.extensions["jobs"]``."""

    def __init__(
        self,
        store: JobStore,
        registry: JobsRegistry,
        *,
        clock: Clock | None = None,
        on_enqueue: Callable[[NewJob], None] | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock or SystemClock()
        self._on_enqueue = on_enqueue

    def now(self) -> float:
        return self.clock.now().timestamp()

    async def enqueue(
        self,
        task: Task[Any] | str,
        payload: BaseModel | dict[str, Any] | None = None,
        *,
        delay: float | None = None,
        run_at: datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        dedupe_key: str | None = None,
        session: Any = None,
    ) -> str:
        """Enqueue ``task`` with ``payload``; returns the job id.

        ``delay`` (seconds) or ``run_at`` (aware datetime) postpone it; with
        ``dedupe_key``, while a job with that key is queued or running, the
        call stores nothing and returns that job's id. ``session`` (SQL store)
        enqueues inside the caller's transaction.
        """
        spec = self.registry.lookup(task if isinstance(task, str) else task.name)
        model = spec.payload_model
        body = payload if isinstance(payload, model) else model.model_validate(payload or {})
        chosen = spec.priority if priority is None else priority
        if not -MAX_PRIORITY <= chosen <= MAX_PRIORITY:
            raise ValueError(f"priority must be within ±{MAX_PRIORITY}")
        if run_at is not None and run_at.tzinfo is None:
            raise ValueError("run_at must be an aware datetime")
        now = self.now()
        when = run_at.timestamp() if run_at is not None else now + (delay or 0.0)
        job = NewJob(
            id=str(uuid7()),
            task=spec.name,
            queue=queue or spec.queue,
            payload=body.model_dump_json(),
            priority=chosen,
            run_at=when,
            enqueued_at=now,
            max_attempts=spec.max_attempts,
            dedupe_key=dedupe_key,
        )
        stored = await self.store.enqueue(job, session=session)
        if self._on_enqueue is not None and stored == job.id:
            self._on_enqueue(job)
        return stored

    async def get(self, job_id: str) -> JobInfo:
        """The job's state, attempts and last error; :class:`JobNotFound` if unknown."""
        found = await self.store.get(job_id)
        if found is None:
            raise JobNotFound(f"No job has id {job_id}.")
        return found

    async def dead(self, queue: str | None = None, *, limit: int = 100) -> list[JobInfo]:
        return await self.store.dead(queue, limit=limit)

    async def retry_dead(self, job_ids: list[str] | None = None) -> int:
        """Re-enqueue dead jobs (all when ``job_ids`` is None), attempts reset."""
        revived = await self.store.revive(job_ids, now=self.now())
        log.info("jobs.dlq_retried", count=revived)
        return revived

    async def purge_dead(self, job_ids: list[str] | None = None) -> int:
        return await self.store.purge(job_ids)

    async def stats(self) -> list[QueueStats]:
        return await self.store.stats(now=self.now())

    async def run_scheduled(self, name: str) -> str:
        """Enqueue the task of cron schedule ``name`` now, outside its ticks."""
        schedule = self.registry.schedules.get(name)
        if schedule is None:
            raise JobNotFound(f"No cron schedule is named {name!r}.")
        return await self.enqueue(schedule.task, schedule.payload)
