"""The worker: claims jobs, runs N at once, renews their leases, retries, buries.

At-least-once: a job stays owned only while its lease is renewed (the
heartbeat). A worker that dies stops renewing, the lease runs out and another
worker claims the job again. On stop (SIGTERM/SIGINT), the worker claims no
more, lets running jobs finish for ``grace`` seconds, then cancels the rest
and releases them to the queue.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from pydantic import ValidationError

from bastion.core.aio import first
from bastion.core.ids import uuid7
from bastion.jobs.errors import UnknownTask
from bastion.jobs.metrics import JobMetrics
from bastion.jobs.service import JobQueue
from bastion.jobs.store import ClaimedJob

if TYPE_CHECKING:
    from bastion.core.state import BastionState

log = structlog.get_logger("bastion.jobs.worker")
MAX_ERROR_CHARS = 8000


@dataclass(frozen=True)
class JobContext:
    """What a handler may take as its second argument."""

    job_id: str
    attempt: int
    max_attempts: int
    queue: JobQueue
    state: BastionState | None = None


@dataclass(frozen=True)
class WorkerOptions:
    queues: Sequence[str] = ("default",)
    concurrency: int = 10
    lease: float = 30.0
    heartbeat: float = 10.0
    poll: float = 1.0
    grace: float = 25.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid7().hex[-8:]}"


class Worker:
    def __init__(
        self,
        queue: JobQueue,
        options: WorkerOptions,
        *,
        state: BastionState | None = None,
        metrics: JobMetrics | None = None,
        name: str | None = None,
    ) -> None:
        self.queue = queue
        self.store = queue.store
        self.options = options
        self.state = state
        self.metrics = metrics
        self.name = name or worker_name()
        self.running: dict[str, asyncio.Task[None]] = {}
        self._slot_freed = asyncio.Event()

    async def run(self, stop: asyncio.Event, *, burst: bool = False) -> None:
        """Work until ``stop`` is set (or, with ``burst``, until no job is due)."""
        log.info("jobs.worker_started", worker=self.name, queues=list(self.options.queues))
        beat = asyncio.create_task(self._heartbeat())
        companions = [
            asyncio.ensure_future(run(self._context(name, 0, 0)))
            for name, run in self.queue.registry.companions.items()
        ]
        try:
            await self._claim_loop(stop, burst)
            await self._finish_running()
        finally:
            for task in [beat, *companions]:
                task.cancel()
            await asyncio.gather(beat, *companions, return_exceptions=True)
            log.info("jobs.worker_stopped", worker=self.name)

    async def _claim_loop(self, stop: asyncio.Event, burst: bool) -> None:
        options = self.options
        while not stop.is_set():
            free = options.concurrency - len(self.running)
            if free <= 0:
                self._slot_freed.clear()
                await first(stop.wait(), self._slot_freed.wait())
                continue
            try:
                claimed = await self.store.claim(
                    options.queues, self.name, now=self.queue.now(), lease=options.lease, limit=free
                )
            except Exception as exc:  # the store is down: keep trying, the jobs wait there
                await self._store_down(stop, exc)
                continue
            for job in claimed:
                self.running[job.id] = asyncio.create_task(self._execute(job))
            if claimed:
                continue
            if burst:
                if not self.running:
                    return
                self._slot_freed.clear()
                await first(stop.wait(), self._slot_freed.wait())
            else:
                # Not raced against `stop`: cancelling a LISTEN or a pub/sub read
                # midway would break its connection. A stop waits at most `poll`.
                try:
                    await self.store.wait(options.queues, options.poll)
                except Exception as exc:
                    await self._store_down(stop, exc)

    async def _store_down(self, stop: asyncio.Event, exc: Exception) -> None:
        log.warning("jobs.store_unavailable", worker=self.name, error=repr(exc))
        await first(stop.wait(), within=self.options.poll)

    async def _finish_running(self) -> None:
        if not self.running:
            return
        tasks = list(self.running.values())
        _, pending = await asyncio.wait(tasks, timeout=self.options.grace)
        for task in pending:
            task.cancel()  # _execute releases the job
        await asyncio.gather(*pending, return_exceptions=True)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.options.heartbeat)
            try:
                await self._beat()
            except Exception as exc:  # one missed beat; the lease outlasts several
                log.warning("jobs.heartbeat_failed", worker=self.name, error=repr(exc))

    async def _beat(self) -> None:
        if self.running:
            until = self.queue.now() + self.options.lease
            lost = await self.store.extend(list(self.running), self.name, until=until)
            for job_id in lost:
                log.warning("jobs.lease_lost", job_id=job_id, worker=self.name)
        if self.metrics:
            self.metrics.depth(await self.queue.stats())

    def _context(self, job_id: str, attempt: int, max_attempts: int) -> JobContext:
        return JobContext(job_id, attempt, max_attempts, self.queue, self.state)

    async def _execute(self, job: ClaimedJob) -> None:
        started = time.perf_counter()
        if self.metrics:
            self.metrics.started(job, self.queue.now())
        outcome = "error"
        try:
            outcome = await self._attempt(job)
        except Exception:  # the store failed; the lease will expire and the job run again
            log.exception("jobs.store_failed", job_id=job.id, worker=self.name)
        except asyncio.CancelledError:
            await asyncio.shield(self.store.release(job.id, self.name))
            outcome = "released"
            raise
        finally:
            del self.running[job.id]
            self._slot_freed.set()
            if self.metrics:
                self.metrics.finished(job, outcome, time.perf_counter() - started)

    async def _attempt(self, job: ClaimedJob) -> str:
        if job.attempt > job.max_attempts:
            # Only lost leases get a job here: it may be what kills its workers.
            error = f"lease lost {job.attempt - 1} times: the job may crash its worker"
            await self.store.bury(job.id, self.name, now=self.queue.now(), error=error)
            log.error("jobs.dead", job_id=job.id, task=job.task, attempts=job.attempt)
            return "dead"
        try:
            task = self.queue.registry.lookup(job.task)
            payload = task.payload_model.model_validate_json(job.payload)
        except (UnknownTask, ValidationError) as exc:  # no retry can fix these
            await self.store.bury(job.id, self.name, now=self.queue.now(), error=_describe(exc))
            log.error("jobs.unrunnable", job_id=job.id, task=job.task, error=str(exc))
            return "dead"
        bound = structlog.contextvars.bound_contextvars(job_id=job.id, task=job.task)
        try:
            with bound:
                async with asyncio.timeout(task.timeout):
                    await task(payload, self._context(job.id, job.attempt, job.max_attempts))
        except Exception as exc:
            return await self._failed(job, task.backoff.delay(job.attempt), exc)
        await self.store.ack(job.id, self.name, now=self.queue.now())
        return "completed"

    async def _failed(self, job: ClaimedJob, delay: float, exc: Exception) -> str:
        error = _describe(exc)
        now = self.queue.now()
        if job.attempt >= job.max_attempts:
            await self.store.bury(job.id, self.name, now=now, error=error)
            log.error("jobs.dead", job_id=job.id, task=job.task, attempts=job.attempt)
            return "dead"
        await self.store.retry(job.id, self.name, run_at=now + delay, error=error)
        log.warning("jobs.retry", job_id=job.id, task=job.task, attempt=job.attempt, delay=delay)
        return "retried"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        text = "TimeoutError: the job ran past its timeout\n"
    else:
        text = "".join(traceback.format_exception(exc))
    return text[-MAX_ERROR_CHARS:]
