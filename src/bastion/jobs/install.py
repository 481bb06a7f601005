"""Wiring the job queue into an app: store, registry, metrics, embedded worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import structlog

from bastion.core.errors import ConfigurationError
from bastion.jobs.metrics import JobMetrics
from bastion.jobs.registry import Empty, JobsRegistry
from bastion.jobs.scheduler import Scheduler
from bastion.jobs.service import JobQueue
from bastion.jobs.settings import JobsSettings
from bastion.jobs.store import JobStore
from bastion.jobs.stores import MemoryJobStore, RedisJobStore, SqlJobStore
from bastion.jobs.worker import JobContext, Worker, WorkerOptions

if TYPE_CHECKING:
    from bastion.core.state import BastionState
    from bastion.ops.metrics import Metrics

log = structlog.get_logger("bastion.jobs")
CLEANUP_TASK = "bastion.jobs.cleanup"


def build_store(settings: JobsSettings, state: BastionState) -> JobStore:
    backend = settings.backend
    if backend == "auto":
        # An in-memory SQLite database lives and dies with the process: so may the jobs.
        in_memory = state.db.dialect == "sqlite" and state.db.url.database in (None, "", ":memory:")
        backend = "redis" if state.redis is not None else "memory" if in_memory else "sql"
    if backend == "memory":
        return MemoryJobStore()
    if backend == "sql":
        return SqlJobStore(state.db)
    if state.redis is None:
        raise ConfigurationError("BASTION_JOBS__BACKEND=redis needs BASTION_REDIS_URL")
    return RedisJobStore(state.redis, prefix=settings.key_prefix)


def app_registry(user: JobsRegistry | None, settings: JobsSettings) -> JobsRegistry:
    """The app's own registry: the user's tasks plus the framework's built-in jobs."""
    registry = JobsRegistry()
    if user is not None:
        registry.include(user)
    retention = settings.finished_retention_hours * 3600

    async def cleanup(payload: Empty, context: JobContext) -> None:
        before = context.queue.now() - retention
        deleted = await context.queue.store.delete_finished(before=before)
        log.info("jobs.cleanup", deleted=deleted)

    registry.builtin_cron(CLEANUP_TASK, "17 * * * *", cleanup, retries=2)
    if settings.schedule_file:
        registry.load_schedule_file(settings.schedule_file)
    return registry


class JobsRuntime:
    """The queue of an app and how its worker and scheduler are built and run."""

    def __init__(
        self, queue: JobQueue, settings: JobsSettings, state: BastionState, metrics: JobMetrics
    ) -> None:
        self.queue = queue
        self.settings = settings
        self.state = state
        self.metrics = metrics
        self.embedded = settings.embedded(development=state.settings.env == "development")

    def worker(self, *, queues: list[str] | None = None, concurrency: int | None = None) -> Worker:
        s = self.settings
        options = WorkerOptions(
            queues=tuple(queues or s.queues),
            concurrency=concurrency or s.concurrency,
            lease=s.lease_seconds,
            heartbeat=s.heartbeat_seconds,
            poll=s.poll_seconds,
            grace=s.grace_seconds,
        )
        return Worker(self.queue, options, state=self.state, metrics=self.metrics)

    def scheduler(self) -> Scheduler:
        s = self.settings
        return Scheduler(self.queue, catch_up=s.catch_up, lateness=s.cron_lateness_seconds)

    @asynccontextmanager
    async def running(
        self, *, worker: Worker | None, scheduler: Scheduler | None
    ) -> AsyncIterator[asyncio.Event]:
        """Run ``worker`` and ``scheduler`` in the background; stop them when the block ends
        (or when the event it yields is set)."""
        stop = asyncio.Event()
        tasks = []
        if worker is not None:
            tasks.append(asyncio.create_task(worker.run(stop), name="bastion-jobs-worker"))
        if scheduler is not None:
            tasks.append(asyncio.create_task(scheduler.run(stop), name="bastion-jobs-scheduler"))
        try:
            yield stop
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            await self.queue.store.close()

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """The app's lifespan part: the embedded worker and scheduler, when on."""
        if not self.embedded:
            try:
                yield
            finally:
                await self.queue.store.close()
            return
        async with self.running(worker=self.worker(), scheduler=self.scheduler()):
            yield


def jobs_of(state: BastionState) -> JobQueue:
    """The app's queue; a feature's install function registers its built-in jobs on
    ``jobs_of(state).registry`` (after ``install_jobs``, before the lifespan starts)."""
    queue: JobQueue = state.extensions["jobs"]
    return queue


def install_jobs(
    settings: JobsSettings, state: BastionState, metrics: Metrics, registry: JobsRegistry | None
) -> JobsRuntime:
    job_metrics = JobMetrics(metrics)
    queue = JobQueue(
        build_store(settings, state),
        app_registry(registry, settings),
        clock=state.clock,
        on_enqueue=job_metrics.enqueued,
    )
    runtime = JobsRuntime(queue, settings, state, job_metrics)
    state.extensions["jobs"] = queue
    state.extensions["jobs_runtime"] = runtime
    return runtime
