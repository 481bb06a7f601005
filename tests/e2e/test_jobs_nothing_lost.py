"""Nothing lost: 2,000 jobs, 3 worker processes, one killed with SIGKILL and restarted.

Every job completes; the only jobs run twice are jobs the killed worker had in
flight. Once on Redis, once on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from redis import Redis

from bastion import BastionSettings, Database
from bastion.core.redis import open_redis
from bastion.jobs import JobQueue, RedisJobStore, SqlJobStore
from bastion.lifecycle import migrations
from tests.conftest import TEST_SECRET
from tests.e2e.jobs_app import Work, jobs

pytestmark = [pytest.mark.jobs, pytest.mark.e2e, pytest.mark.concurrency, pytest.mark.redis]

REPO_ROOT = Path(__file__).resolve().parents[2]
BASTION = Path(sys.executable).parent / "bastion"
JOBS = 2000
CONCURRENCY = 10
LEASE = 2.0
T = TypeVar("T")


class Workers:
    """``bastion worker`` processes; each one's log goes to a file (a pipe nobody
    reads would fill up and block it)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.processes: list[subprocess.Popen[bytes]] = []

    def log(self, process: subprocess.Popen[bytes]) -> Path:
        return self.logs / f"worker-{self.processes.index(process)}.log"

    def start(self, *options: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"worker-{len(self.processes)}.log").open("wb") as log:
            process = subprocess.Popen(
                [str(BASTION), "worker", "--concurrency", str(CONCURRENCY), *options],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self.processes.append(process)
        return process

    def wait_started(self, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
        """Until the worker logs that it runs (it has its signal handlers by then)."""
        log = self.log(process)
        deadline = time.monotonic() + timeout
        while b"jobs.worker_started" not in log.read_bytes():
            assert process.poll() is None, f"worker exited: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"worker not started: {log.read_text()[-2000:]}"
            time.sleep(0.05)

    def stop_all(self) -> list[int]:
        live = [p for p in self.processes if p.poll() is None]
        for process in live:
            process.send_signal(signal.SIGTERM)
        return [process.wait(timeout=20) for process in live]


@pytest.fixture
def workers_env(redis_url: str, redis_prefix: str) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    env |= {
        "BASTION_APP": "tests.e2e.jobs_app:app",
        "BASTION_ENV": "test",
        "BASTION_SECRET_KEY": TEST_SECRET,
        "BASTION_REDIS_URL": redis_url,
        "BASTION_JOBS__KEY_PREFIX": redis_prefix,
        "BASTION_JOBS__LEASE_SECONDS": str(LEASE),
        "BASTION_JOBS__HEARTBEAT_SECONDS": "0.5",
        "BASTION_JOBS__POLL_SECONDS": "0.2",
        "BASTION_JOBS__GRACE_SECONDS": "5",
    }
    yield env
    client = Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{redis_prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


async def _enqueue_all(queue: JobQueue) -> list[str]:
    ids: list[str] = []
    for start in range(0, JOBS, 200):
        batch = [queue.enqueue("record", Work()) for _ in range(start, min(JOBS, start + 200))]
        ids += await asyncio.gather(*batch)
    return ids


def _run(
    env: dict[str, str],
    logs: Path,
    redis_url: str,
    prefix: str,
    queue_ids: list[str],
    unfinished: Callable[[], int],
) -> None:
    redis = Redis.from_url(redis_url)
    workers = Workers(env, logs)
    for _ in range(3):
        workers.start()
    victim = workers.processes[0]
    deadline = time.monotonic() + 60
    while redis.llen(prefix + "test:ends") < JOBS // 3:
        assert time.monotonic() < deadline, "workers made no progress"
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    workers.wait_started(workers.start())  # restarted

    # Done means acknowledged in the store: a job the victim finished but had not
    # acknowledged runs again once its lease expires.
    left = JOBS
    while left:
        assert time.monotonic() < deadline, f"{left} of {JOBS} jobs are not done"
        time.sleep(0.2)
        left = unfinished()
    codes = workers.stop_all()
    assert codes == [0, 0, 0], [workers.log(p).read_text()[-2000:] for p in workers.processes]

    starts = [m.decode().rsplit(":", 1) for m in redis.lrange(prefix + "test:starts", 0, -1)]
    runs = Counter(job_id for job_id, _ in starts)
    assert set(runs) == set(queue_ids)
    in_victim = {job_id for job_id, pid in starts if pid == str(victim.pid)}
    twice = {job_id for job_id, count in runs.items() if count > 1}
    assert twice <= in_victim, "a job ran twice without a worker dying under it"
    # In flight when killed: at most its concurrency (claims happen only for free slots).
    assert len(twice) <= CONCURRENCY
    assert all(count <= 2 for count in runs.values())
    redis.close()


async def _unfinished(queue: JobQueue) -> int:
    return sum(row.queued + row.scheduled + row.running + row.dead for row in await queue.stats())


async def _all_done(queue: JobQueue, ids: list[str]) -> None:
    states = Counter([(await queue.get(job_id)).state for job_id in ids])
    assert states == {"done": JOBS}
    stats = await queue.stats()
    assert all(row.queued == row.running == row.dead == 0 for row in stats)


def test_nothing_lost_on_redis(
    workers_env: dict[str, str], redis_url: str, redis_prefix: str, tmp_path: Path
):
    async def on_queue(action: Callable[[JobQueue], Awaitable[T]]) -> T:
        client = open_redis(redis_url)
        try:
            return await action(JobQueue(RedisJobStore(client, prefix=redis_prefix), jobs))
        finally:
            await client.aclose()

    ids = asyncio.run(on_queue(_enqueue_all))
    _run(
        workers_env,
        tmp_path,
        redis_url,
        redis_prefix,
        ids,
        lambda: asyncio.run(on_queue(_unfinished)),
    )
    asyncio.run(on_queue(lambda queue: _all_done(queue, ids)))


@pytest.mark.postgres
def test_nothing_lost_on_postgres(
    workers_env: dict[str, str],
    redis_url: str,
    redis_prefix: str,
    postgres_url: str,
    tmp_path: Path,
):
    env = workers_env | {"BASTION_DATABASE_URL": postgres_url, "BASTION_JOBS__BACKEND": "sql"}
    settings = BastionSettings(env="test", database_url=postgres_url)

    async def on_queue(action: Callable[[JobQueue], Awaitable[T]]) -> T:
        db = Database.from_settings(settings)
        try:
            return await action(JobQueue(SqlJobStore(db), jobs))
        finally:
            await db.dispose()

    async def migrate() -> None:
        db = Database.from_settings(settings)
        await migrations.upgrade(db, ())
        await db.dispose()

    asyncio.run(migrate())
    ids = asyncio.run(on_queue(_enqueue_all))
    _run(env, tmp_path, redis_url, redis_prefix, ids, lambda: asyncio.run(on_queue(_unfinished)))
    asyncio.run(on_queue(lambda queue: _all_done(queue, ids)))
