"""What a job backend keeps and does: the contract every store honours.

A job moves ``queued`` → ``running`` (claimed, with a lease) → ``done``, or back
to ``queued`` (a retry, a released or expired lease) or to ``dead`` (retries
exhausted). Every transition is one atomic step in the store (one SQL
statement, one Lua script): two workers never own one job, and a job whose
lease ran out is claimable again — that is at-least-once delivery.

Times are seconds since the epoch from the caller's clock, so tests control them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bastion.core.errors import ConfigurationError

JobState = Literal["queued", "running", "done", "dead"]
TickClaim = Literal["first", "claimed", "taken"]
STATES: tuple[JobState, ...] = ("queued", "running", "done", "dead")


@dataclass(frozen=True)
class NewJob:
    """A job to enqueue; ``payload`` is JSON text."""

    id: str
    task: str
    queue: str
    payload: str
    priority: int
    run_at: float
    enqueued_at: float
    max_attempts: int
    dedupe_key: str | None = None


@dataclass(frozen=True)
class ClaimedJob:
    """A job a worker now owns until ``lease_until``; ``attempt`` counts this run."""

    id: str
    task: str
    queue: str
    payload: str
    attempt: int
    max_attempts: int
    run_at: float
    enqueued_at: float


@dataclass(frozen=True)
class JobInfo:
    """A job as ``jobs.get`` and ``bastion jobs dlq show`` report it."""

    id: str
    task: str
    queue: str
    state: JobState
    payload: str
    priority: int
    attempts: int
    max_attempts: int
    run_at: float
    enqueued_at: float
    started_at: float | None
    finished_at: float | None
    worker: str | None
    error: str | None
    dedupe_key: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def refuse_session(session: Any) -> None:
    """Stores outside the database cannot join its transaction: say so, never ignore it."""
    if session is not None:
        raise ConfigurationError(
            "enqueue(session=...) joins a SQL transaction: it needs BASTION_JOBS__BACKEND=sql"
        )


STAT_COLUMNS = ("queued", "scheduled", "running", "dead")


@dataclass(frozen=True)
class QueueStats:
    queue: str
    queued: int
    scheduled: int
    running: int
    dead: int


class JobStore(Protocol):
    """The backend contract, run by ``tests/integration/jobs/test_store_contract.py``."""

    async def enqueue(self, job: NewJob, *, session: Any = None) -> str:
        """Store ``job``; the id stored. With a ``dedupe_key`` held by a queued or
        running job, store nothing and return that job's id. ``session`` (SQL only)
        writes in the caller's transaction."""
        ...

    async def claim(
        self, queues: Sequence[str], worker: str, *, now: float, lease: float, limit: int
    ) -> list[ClaimedJob]:
        """Take up to ``limit`` due jobs, highest priority first then oldest, and
        jobs whose lease expired; each gets ``attempts + 1`` and a lease to ``now + lease``."""
        ...

    async def extend(self, ids: Sequence[str], worker: str, *, until: float) -> list[str]:
        """Renew the leases ``worker`` still holds; the ids it no longer owns."""
        ...

    async def ack(self, job_id: str, worker: str, *, now: float) -> bool:
        """Mark done; False (and no change) when ``worker`` lost the lease."""
        ...

    async def retry(self, job_id: str, worker: str, *, run_at: float, error: str) -> bool:
        """Back to ``queued`` until ``run_at``, keeping the attempt count and the error."""
        ...

    async def bury(self, job_id: str, worker: str, *, now: float, error: str) -> bool:
        """Move to the dead letters with ``error``; frees the dedupe key."""
        ...

    async def release(self, job_id: str, worker: str) -> bool:
        """Give an unfinished job back (shutdown), un-counting this attempt."""
        ...

    async def get(self, job_id: str) -> JobInfo | None: ...

    async def dead(self, queue: str | None = None, *, limit: int = 100) -> list[JobInfo]:
        """Dead jobs, most recent first."""
        ...

    async def revive(self, job_ids: Sequence[str] | None, *, now: float) -> int:
        """Re-enqueue dead jobs (all when ``job_ids`` is None) with attempts reset."""
        ...

    async def purge(self, job_ids: Sequence[str] | None) -> int:
        """Delete dead jobs (all when ``job_ids`` is None)."""
        ...

    async def delete_finished(self, *, before: float) -> int:
        """Forget ``done`` jobs finished before ``before``."""
        ...

    async def stats(self, *, now: float) -> list[QueueStats]:
        """Per queue: due, scheduled (``run_at`` later than ``now``), running and dead jobs."""
        ...

    async def claim_tick(self, schedule: str, tick: float) -> TickClaim:
        """Record ``tick`` as the last of ``schedule`` if it is later than the one
        stored. Exactly one caller gets ``claimed`` (``first`` when the schedule had
        no tick yet); the others ``taken``."""
        ...

    async def wait(self, queues: Sequence[str], within: float) -> None:
        """Return when a job may have become ready for ``queues``, or after ``within`` seconds."""
        ...

    async def close(self) -> None: ...
