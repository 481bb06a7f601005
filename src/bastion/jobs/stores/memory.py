"""The in-process store: a real implementation for tests and single-process development.

Every method runs without awaiting between its reads and writes, so on one
event loop each is atomic, as the SQL and Redis stores are across processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Sequence
from typing import Any

from bastion.jobs.store import (
    STAT_COLUMNS,
    ClaimedJob,
    JobInfo,
    NewJob,
    QueueStats,
    TickClaim,
    refuse_session,
)

_LIVE = ("queued", "running")


class MemoryJobStore:
    def __init__(self) -> None:
        self._jobs: dict[str, JobInfo] = {}
        self._lease: dict[str, float] = {}
        self._dedupe: dict[str, str] = {}
        self._ticks: dict[str, float] = {}
        self._wake = asyncio.Event()

    async def enqueue(self, job: NewJob, *, session: Any = None) -> str:
        refuse_session(session)
        if job.dedupe_key is not None:
            holder = self._dedupe.get(job.dedupe_key)
            if holder is not None and self._jobs[holder].state in _LIVE:
                return holder
            self._dedupe[job.dedupe_key] = job.id
        self._jobs[job.id] = JobInfo(
            id=job.id,
            task=job.task,
            queue=job.queue,
            state="queued",
            payload=job.payload,
            priority=job.priority,
            attempts=0,
            max_attempts=job.max_attempts,
            run_at=job.run_at,
            enqueued_at=job.enqueued_at,
            started_at=None,
            finished_at=None,
            worker=None,
            error=None,
            dedupe_key=job.dedupe_key,
        )
        self._wake.set()
        return job.id

    def _claimable(self, job: JobInfo, queues: Sequence[str], now: float) -> bool:
        if job.queue not in queues:
            return False
        if job.state == "queued":
            return job.run_at <= now
        return job.state == "running" and self._lease[job.id] < now

    async def claim(
        self, queues: Sequence[str], worker: str, *, now: float, lease: float, limit: int
    ) -> list[ClaimedJob]:
        ready = [j for j in self._jobs.values() if self._claimable(j, queues, now)]
        ready.sort(key=lambda j: (-j.priority, j.run_at, j.id))
        claimed = []
        for job in ready[:limit]:
            job = self._update(
                job.id, state="running", worker=worker, attempts=job.attempts + 1, started_at=now
            )
            self._lease[job.id] = now + lease
            claimed.append(
                ClaimedJob(
                    id=job.id,
                    task=job.task,
                    queue=job.queue,
                    payload=job.payload,
                    attempt=job.attempts,
                    max_attempts=job.max_attempts,
                    run_at=job.run_at,
                    enqueued_at=job.enqueued_at,
                )
            )
        return claimed

    def _owned(self, job_id: str, worker: str) -> JobInfo | None:
        job = self._jobs.get(job_id)
        return job if job and job.state == "running" and job.worker == worker else None

    def _update(self, job_id: str, **changes: Any) -> JobInfo:
        job = self._jobs[job_id] = dataclasses.replace(self._jobs[job_id], **changes)
        return job

    async def extend(self, ids: Sequence[str], worker: str, *, until: float) -> list[str]:
        lost = []
        for job_id in ids:
            if self._owned(job_id, worker):
                self._lease[job_id] = until
            else:
                lost.append(job_id)
        return lost

    async def ack(self, job_id: str, worker: str, *, now: float) -> bool:
        if not self._owned(job_id, worker):
            return False
        self._update(job_id, state="done", finished_at=now)
        return True

    async def retry(self, job_id: str, worker: str, *, run_at: float, error: str) -> bool:
        if not self._owned(job_id, worker):
            return False
        self._update(job_id, state="queued", run_at=run_at, error=error, worker=None)
        return True

    async def bury(self, job_id: str, worker: str, *, now: float, error: str) -> bool:
        if not self._owned(job_id, worker):
            return False
        self._update(job_id, state="dead", finished_at=now, error=error)
        return True

    async def release(self, job_id: str, worker: str) -> bool:
        job = self._owned(job_id, worker)
        if job is None:
            return False
        self._update(job_id, state="queued", attempts=job.attempts - 1, worker=None)
        self._wake.set()
        return True

    async def get(self, job_id: str) -> JobInfo | None:
        return self._jobs.get(job_id)

    async def dead(self, queue: str | None = None, *, limit: int = 100) -> list[JobInfo]:
        found = [j for j in self._jobs.values() if j.state == "dead" and queue in (None, j.queue)]
        found.sort(key=lambda j: (j.finished_at or 0, j.id), reverse=True)
        return found[:limit]

    def _dead_ids(self, job_ids: Sequence[str] | None) -> list[str]:
        chosen = self._jobs if job_ids is None else job_ids
        return [i for i in chosen if i in self._jobs and self._jobs[i].state == "dead"]

    async def revive(self, job_ids: Sequence[str] | None, *, now: float) -> int:
        revived = self._dead_ids(job_ids)
        for job_id in revived:
            self._update(job_id, state="queued", attempts=0, run_at=now, finished_at=None)
        self._wake.set()
        return len(revived)

    async def purge(self, job_ids: Sequence[str] | None) -> int:
        doomed = self._dead_ids(job_ids)
        for job_id in doomed:
            del self._jobs[job_id]
        return len(doomed)

    async def delete_finished(self, *, before: float) -> int:
        doomed = [
            i for i, j in self._jobs.items() if j.state == "done" and (j.finished_at or 0) < before
        ]
        for job_id in doomed:
            del self._jobs[job_id]
        return len(doomed)

    async def stats(self, *, now: float) -> list[QueueStats]:
        counts: dict[str, dict[str, int]] = {}
        for job in self._jobs.values():
            row = counts.setdefault(job.queue, dict.fromkeys(STAT_COLUMNS, 0))
            if job.state == "queued":
                row["scheduled" if job.run_at > now else "queued"] += 1
            elif job.state != "done":
                row[job.state] += 1
        return [QueueStats(queue=q, **row) for q, row in sorted(counts.items())]

    async def claim_tick(self, schedule: str, tick: float) -> TickClaim:
        previous = self._ticks.get(schedule)
        if previous is not None and previous >= tick:
            return "taken"
        self._ticks[schedule] = tick
        return "first" if previous is None else "claimed"

    async def wait(self, queues: Sequence[str], within: float) -> None:
        # A wake-up from before the call returns at once: the claim that follows
        # finds the job (clearing first would lose it).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), within)
        self._wake.clear()

    async def close(self) -> None:
        return None
