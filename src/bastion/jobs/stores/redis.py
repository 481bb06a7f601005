"""The Redis store: each transition is one Lua script, atomic on the server.

Key schema (``P`` is ``BASTION_JOBS__KEY_PREFIX``, default ``bastion:jobs:``)::

    P job:<id>          hash    the job (task, queue, payload, state, attempts, ...)
    P ready:<queue>     zset    due jobs; score = -priority * 1e12 + enqueue sequence
    P delayed:<queue>   zset    jobs waiting for run_at (score) or a retry's backoff
    P running:<queue>   zset    claimed jobs; score = lease expiry
    P dead:<queue>      zset    dead letters; score = when they died
    P done              zset    finished jobs; score = when (for retention)
    P dedupe:<key>      string  the id of the live job holding a dedupe key
    P queues            set     every queue name seen
    P seq               string  the enqueue sequence
    P ticks             hash    cron schedule -> last claimed tick
    P wake              channel a queue name, published when a job becomes ready

Scripts build their key names from the prefix, so every key must live on one
node: on Redis Cluster, give the prefix a hash tag (``{jobs}:``).
Concurrent calls of one process travel in one pipeline
(:class:`~bastion.core.redis.ScriptBatcher`). See ``docs/jobs.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from bastion.core.redis import ScriptBatcher
from bastion.jobs.store import ClaimedJob, JobInfo, NewJob, QueueStats, TickClaim, refuse_session

if TYPE_CHECKING:
    from redis.asyncio import Redis

_SCRIPTS = {
    path.stem: path.read_text() for path in sorted((Path(__file__).parent / "lua").glob("*.lua"))
}
_FLOATS = ("run_at", "enqueued_at", "started_at", "finished_at")
_INTS = ("priority", "attempts", "max_attempts")
FORGET_BATCH = 1000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _info(job_id: str, raw: Mapping[Any, Any]) -> JobInfo:
    f = {_text(k): _text(v) for k, v in raw.items()}
    return JobInfo(
        id=job_id,
        task=f["task"],
        queue=f["queue"],
        state=cast(Any, f["state"]),
        payload=f["payload"],
        dedupe_key=f.get("dedupe_key") or None,
        worker=f.get("worker") or None,
        error=f.get("error") or None,
        **{k: int(f[k]) for k in _INTS},
        **{k: float(f[k]) if f.get(k) else None for k in _FLOATS},  # type: ignore[arg-type]
    )


class RedisJobStore:
    def __init__(self, redis: Redis, *, prefix: str = "bastion:jobs:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._scripts = ScriptBatcher(redis, _SCRIPTS)
        self._pubsub: Any = None

    async def _run(self, script: str, *args: Any) -> Any:
        return await self._scripts.call(script, [self.prefix], list(args))

    async def enqueue(self, job: NewJob, *, session: Any = None) -> str:
        refuse_session(session)
        stored = await self._run(
            "enqueue",
            job.id,
            job.task,
            job.queue,
            job.payload,
            job.priority,
            repr(job.run_at),
            repr(job.enqueued_at),
            job.max_attempts,
            job.dedupe_key or "",
            repr(job.enqueued_at),
        )
        return _text(stored)

    async def claim(
        self, queues: Sequence[str], worker: str, *, now: float, lease: float, limit: int
    ) -> list[ClaimedJob]:
        rows = await self._run("claim", worker, repr(now), repr(now + lease), limit, *queues)
        return [
            ClaimedJob(
                id=_text(r[0]),
                task=_text(r[1]),
                queue=_text(r[2]),
                payload=_text(r[3]),
                attempt=int(r[4]),
                max_attempts=int(r[5]),
                run_at=float(r[6]),
                enqueued_at=float(r[7]),
            )
            for r in rows
        ]

    async def extend(self, ids: Sequence[str], worker: str, *, until: float) -> list[str]:
        if not ids:
            return []
        return [_text(i) for i in await self._run("extend", worker, repr(until), *ids)]

    async def _finish(self, mode: str, job_id: str, worker: str, t: float, error: str) -> bool:
        return bool(await self._run("finish", mode, job_id, worker, repr(t), error))

    async def ack(self, job_id: str, worker: str, *, now: float) -> bool:
        return await self._finish("ack", job_id, worker, now, "")

    async def retry(self, job_id: str, worker: str, *, run_at: float, error: str) -> bool:
        return await self._finish("retry", job_id, worker, run_at, error)

    async def bury(self, job_id: str, worker: str, *, now: float, error: str) -> bool:
        return await self._finish("bury", job_id, worker, now, error)

    async def release(self, job_id: str, worker: str) -> bool:
        return await self._finish("release", job_id, worker, 0.0, "")

    async def get(self, job_id: str) -> JobInfo | None:
        raw = await self.redis.hgetall(self.prefix + "job:" + job_id)
        return _info(job_id, raw) if raw else None

    async def _queues(self) -> list[str]:
        return sorted(_text(q) for q in await self.redis.smembers(self.prefix + "queues"))

    async def _dead_ids(self, queue: str | None, limit: int) -> list[str]:
        found: list[tuple[float, str]] = []
        for q in [queue] if queue else await self._queues():
            entries: list[Any] = await self.redis.zrevrange(
                f"{self.prefix}dead:{q}", 0, limit - 1, withscores=True
            )
            found += [(float(score), _text(member)) for member, score in entries]
        found.sort(reverse=True)
        return [job_id for _, job_id in found[:limit]]

    async def dead(self, queue: str | None = None, *, limit: int = 100) -> list[JobInfo]:
        jobs = [await self.get(job_id) for job_id in await self._dead_ids(queue, limit)]
        return [job for job in jobs if job is not None]

    async def _dead_op(self, mode: str, job_ids: Sequence[str] | None, now: float) -> int:
        ids = list(job_ids) if job_ids is not None else await self._dead_ids(None, 10**9)
        changed = 0
        for start in range(0, len(ids), 500):
            changed += int(await self._run("dead", mode, repr(now), *ids[start : start + 500]))
        return changed

    async def revive(self, job_ids: Sequence[str] | None, *, now: float) -> int:
        return await self._dead_op("revive", job_ids, now)

    async def purge(self, job_ids: Sequence[str] | None) -> int:
        return await self._dead_op("purge", job_ids, 0.0)

    async def delete_finished(self, *, before: float) -> int:
        total = 0
        while True:
            deleted = int(await self._run("forget", repr(before), FORGET_BATCH))
            total += deleted
            if deleted < FORGET_BATCH:
                return total

    async def stats(self, *, now: float) -> list[QueueStats]:
        found = []
        for q in await self._queues():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zcard(f"{self.prefix}ready:{q}")
                pipe.zcount(f"{self.prefix}delayed:{q}", "-inf", now)
                pipe.zcard(f"{self.prefix}delayed:{q}")
                pipe.zcard(f"{self.prefix}running:{q}")
                pipe.zcard(f"{self.prefix}dead:{q}")
                ready, due, delayed, running, dead = await pipe.execute()
            found.append(QueueStats(q, ready + due, delayed - due, running, dead))
        return found

    async def claim_tick(self, schedule: str, tick: float) -> TickClaim:
        return cast(TickClaim, _text(await self._run("tick", schedule, repr(tick))))

    async def wait(self, queues: Sequence[str], within: float) -> None:
        try:
            if self._pubsub is None:
                self._pubsub = self.redis.pubsub()
                await self._pubsub.subscribe(self.prefix + "wake")
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=within)
            # Many enqueues leave many wake-ups queued; one is enough.
            while message is not None:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0)
        except BaseException:
            await self.close()  # the next wait subscribes again on a fresh connection
            raise

    async def close(self) -> None:
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None
