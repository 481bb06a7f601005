"""The SQL store: PostgreSQL (``FOR UPDATE SKIP LOCKED``, ``LISTEN/NOTIFY``) and SQLite.

Each transition is one statement (acks of jobs that finish together share
one). On PostgreSQL the claim locks the rows it takes and skips rows other
workers are taking; on SQLite the single writer serialises claims. Acks,
retries and claims commit with ``synchronous_commit = off``: a crash may
forget one of them, which only re-runs a job — what at-least-once allows —
while enqueues stay durable.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, case, delete, event, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bastion.core.db import Database
from bastion.core.db.upsert import insert_for
from bastion.jobs.models import CronTickRow, JobRow
from bastion.jobs.store import STAT_COLUMNS, ClaimedJob, JobInfo, NewJob, QueueStats, TickClaim

JOBS = cast(Table, JobRow.__table__)
TICKS = cast(Table, CronTickRow.__table__)
CHANNEL = "bastion_jobs"
_LIVE = JOBS.c.state.in_(("queued", "running"))
_LIVE_LITERAL = text("state IN ('queued', 'running')")
_CLAIMED = (
    JOBS.c.id,
    JOBS.c.task,
    JOBS.c.queue,
    JOBS.c.payload,
    JOBS.c.attempts,
    JOBS.c.max_attempts,
    JOBS.c.run_at,
    JOBS.c.enqueued_at,
)
_Ack = tuple[str, str, float, "asyncio.Future[bool]"]
# How often a claimer also returns expired leases to the queue (seconds of `now`).
RECOVERY_EVERY = 1.0


def _info(row: Row[Any]) -> JobInfo:
    m = row._mapping
    fields = {name: m[name] for name in JobInfo.__dataclass_fields__ if name != "priority"}
    return JobInfo(**fields, priority=-m["rank"])


def _claimed(row: Row[Any]) -> ClaimedJob:
    m = row._mapping
    return ClaimedJob(
        id=m["id"],
        task=m["task"],
        queue=m["queue"],
        payload=m["payload"],
        attempt=m["attempts"],
        max_attempts=m["max_attempts"],
        run_at=m["run_at"],
        enqueued_at=m["enqueued_at"],
    )


class SqlJobStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.postgres = db.dialect == "postgresql"
        self._insert = insert_for(db.dialect)
        self._next_recovery = 0.0
        self._wake = asyncio.Event()
        self._listener: Any = None
        self._acks: list[_Ack] = []
        self._senders: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def _relaxed(self) -> AsyncIterator[AsyncConnection]:
        """A transaction whose commit does not wait for the disk (see the module's note)."""
        async with self.db.engine.begin() as conn:
            if self.postgres:
                await conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
            yield conn

    async def enqueue(self, job: NewJob, *, session: AsyncSession | None = None) -> str:
        if session is not None:
            if not self.postgres:  # wake this process's worker once the job is visible
                event.listen(session.sync_session, "after_commit", self._woken, once=True)
            return await self._enqueue(session, job)
        async with self.db.session() as own:
            stored = await self._enqueue(own, job)
        self._wake.set()
        return stored

    def _woken(self, _session: Any) -> None:
        self._wake.set()

    async def _enqueue(self, session: AsyncSession, job: NewJob) -> str:
        values = {**job.__dict__, "state": "queued", "attempts": 0, "rank": -job.priority}
        del values["priority"]
        statement = self._insert(JOBS).values(values)
        if job.dedupe_key is not None:
            # The index's predicate written out as constants: PostgreSQL matches the
            # partial index only against a literal predicate, never bound parameters.
            statement = statement.on_conflict_do_nothing(
                index_elements=[JOBS.c.dedupe_key], index_where=_LIVE_LITERAL
            )
        stored = (await session.execute(statement.returning(JOBS.c.id))).scalar()
        if stored is None:  # the key is held; the holder may finish meanwhile, so look twice
            holder = select(JOBS.c.id).where(JOBS.c.dedupe_key == job.dedupe_key, _LIVE)
            stored = (await session.execute(holder)).scalar()
            if stored is None:
                return await self._enqueue(session, job)
            return str(stored)
        if self.postgres:  # delivered when (and only if) the transaction commits
            await session.execute(select(func.pg_notify(CHANNEL, job.queue)))
        return job.id

    async def claim(
        self, queues: Sequence[str], worker: str, *, now: float, lease: float, limit: int
    ) -> list[ClaimedJob]:
        async with self._relaxed() as conn:
            if now >= self._next_recovery:
                self._next_recovery = now + RECOVERY_EVERY
                await conn.execute(
                    update(JOBS)
                    .where(JOBS.c.state == "running", JOBS.c.lease_until < now)
                    .values(state="queued", worker=None, lease_until=None)
                )
            chosen = (
                select(JOBS.c.id)
                .where(JOBS.c.state == "queued", JOBS.c.queue.in_(queues), JOBS.c.run_at <= now)
                .order_by(JOBS.c.rank, JOBS.c.run_at, JOBS.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            rows = await conn.execute(
                update(JOBS)
                .where(JOBS.c.id.in_(chosen))
                .values(
                    state="running",
                    worker=worker,
                    attempts=JOBS.c.attempts + 1,
                    started_at=now,
                    lease_until=now + lease,
                )
                .returning(*_CLAIMED)
            )
            found = [_claimed(row) for row in rows]
        found.sort(key=lambda j: j.enqueued_at)
        return found

    def _owned(self, job_id: str, worker: str) -> Any:
        return update(JOBS).where(
            JOBS.c.id == job_id, JOBS.c.state == "running", JOBS.c.worker == worker
        )

    async def _change(self, statement: Any) -> bool:
        async with self._relaxed() as conn:
            return bool((await conn.execute(statement)).rowcount)

    async def extend(self, ids: Sequence[str], worker: str, *, until: float) -> list[str]:
        async with self._relaxed() as conn:
            kept = await conn.execute(
                update(JOBS)
                .where(JOBS.c.id.in_(ids), JOBS.c.state == "running", JOBS.c.worker == worker)
                .values(lease_until=until)
                .returning(JOBS.c.id)
            )
            owned = set(kept.scalars())
        return [i for i in ids if i not in owned]

    async def ack(self, job_id: str, worker: str, *, now: float) -> bool:
        # Acks of one event-loop turn (jobs that finished together) share one statement.
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()
        self._acks.append((job_id, worker, now, done))
        if len(self._acks) == 1:
            loop.call_soon(self._send_acks)
        return await done

    def _send_acks(self) -> None:
        batch, self._acks = self._acks, []
        sender = asyncio.get_running_loop().create_task(self._ack_batch(batch))
        self._senders.add(sender)
        sender.add_done_callback(self._senders.discard)

    async def _ack_batch(self, batch: list[_Ack]) -> None:
        owned: set[str] = set()
        try:
            async with self._relaxed() as conn:
                for worker in {w for _, w, _, _ in batch}:
                    mine = [(job_id, now) for job_id, w, now, _ in batch if w == worker]
                    acked = await conn.execute(
                        update(JOBS)
                        .where(
                            JOBS.c.id.in_([job_id for job_id, _ in mine]),
                            JOBS.c.state == "running",
                            JOBS.c.worker == worker,
                        )
                        .values(state="done", finished_at=max(n for _, n in mine), lease_until=None)
                        .returning(JOBS.c.id)
                    )
                    owned.update(acked.scalars())
        except Exception as exc:
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for job_id, _, _, future in batch:
            if not future.done():  # the caller may have stopped waiting
                future.set_result(job_id in owned)

    async def retry(self, job_id: str, worker: str, *, run_at: float, error: str) -> bool:
        return await self._change(
            self._owned(job_id, worker).values(
                state="queued", run_at=run_at, error=error, worker=None, lease_until=None
            )
        )

    async def bury(self, job_id: str, worker: str, *, now: float, error: str) -> bool:
        return await self._change(
            self._owned(job_id, worker).values(
                state="dead", finished_at=now, error=error, lease_until=None
            )
        )

    async def release(self, job_id: str, worker: str) -> bool:
        released = await self._change(
            self._owned(job_id, worker).values(
                state="queued", attempts=JOBS.c.attempts - 1, worker=None, lease_until=None
            )
        )
        self._wake.set()
        return released

    async def get(self, job_id: str) -> JobInfo | None:
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(JOBS).where(JOBS.c.id == job_id))).first()
        return _info(row) if row else None

    async def dead(self, queue: str | None = None, *, limit: int = 100) -> list[JobInfo]:
        query = select(JOBS).where(JOBS.c.state == "dead")
        if queue is not None:
            query = query.where(JOBS.c.queue == queue)
        query = query.order_by(JOBS.c.finished_at.desc(), JOBS.c.id.desc()).limit(limit)
        async with self.db.engine.connect() as conn:
            return [_info(row) for row in await conn.execute(query)]

    def _dead(self, job_ids: Sequence[str] | None) -> Any:
        condition = JOBS.c.state == "dead"
        return condition if job_ids is None else condition & JOBS.c.id.in_(job_ids)

    async def revive(self, job_ids: Sequence[str] | None, *, now: float) -> int:
        async with self.db.engine.begin() as conn:
            revived = await conn.execute(
                update(JOBS)
                .where(self._dead(job_ids))
                .values(state="queued", attempts=0, run_at=now, finished_at=None, worker=None)
                .returning(JOBS.c.queue)
            )
            queues = list(revived.scalars())
            if self.postgres:
                for queue in set(queues):
                    await conn.execute(select(func.pg_notify(CHANNEL, queue)))
        self._wake.set()
        return len(queues)

    async def purge(self, job_ids: Sequence[str] | None) -> int:
        async with self.db.engine.begin() as conn:
            return int((await conn.execute(delete(JOBS).where(self._dead(job_ids)))).rowcount)

    async def delete_finished(self, *, before: float) -> int:
        doomed = delete(JOBS).where(JOBS.c.state == "done", JOBS.c.finished_at < before)
        async with self.db.engine.begin() as conn:
            return int((await conn.execute(doomed)).rowcount)

    async def stats(self, *, now: float) -> list[QueueStats]:
        state = case(
            (JOBS.c.state != "queued", JOBS.c.state),
            (JOBS.c.run_at > now, "scheduled"),
            else_="queued",
        ).label("column")
        query = (
            select(JOBS.c.queue, state, func.count())
            .where(JOBS.c.state != "done")
            .group_by(JOBS.c.queue, state)
        )
        counts: dict[str, dict[str, int]] = {}
        async with self.db.engine.connect() as conn:
            for queue, column, count in await conn.execute(query):
                counts.setdefault(queue, dict.fromkeys(STAT_COLUMNS, 0))[column] = count
        return [QueueStats(queue=q, **row) for q, row in sorted(counts.items())]

    async def claim_tick(self, schedule: str, tick: float) -> TickClaim:
        async with self.db.engine.begin() as conn:
            first = await conn.execute(
                self._insert(TICKS)
                .values(schedule=schedule, tick=tick)
                .on_conflict_do_nothing(index_elements=[TICKS.c.schedule])
                .returning(TICKS.c.schedule)
            )
            if first.first() is not None:
                return "first"
            later = await conn.execute(
                update(TICKS)
                .where(TICKS.c.schedule == schedule, TICKS.c.tick < tick)
                .values(tick=tick)
            )
            return "claimed" if later.rowcount else "taken"

    async def wait(self, queues: Sequence[str], within: float) -> None:
        if self.postgres and self._listener is None:
            await self._listen()
        # A wake-up from before the call returns at once: the claim that follows
        # finds the job (clearing first would lose it).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), within)
        self._wake.clear()

    async def _listen(self) -> None:
        import asyncpg  # type: ignore[import-untyped]

        url = self.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._listener = await asyncpg.connect(url)
        await self._listener.add_listener(CHANNEL, lambda *_: self._wake.set())

    async def close(self) -> None:
        await asyncio.gather(*self._senders, return_exceptions=True)
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
