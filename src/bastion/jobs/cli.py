"""``bastion worker``, ``bastion scheduler`` and ``bastion jobs ...``."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer
from fastapi import FastAPI
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bastion.core.cli import fail, run, run_async
from bastion.jobs.install import JobsRuntime
from bastion.jobs.service import JobQueue
from bastion.jobs.store import JobInfo

jobs_app = typer.Typer(help="The job queue: stats, dead letters, cron.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters: jobs whose retries ran out.", no_args_is_help=True)
jobs_app.add_typer(dlq_app, name="dlq")
QueuesOption = Annotated[
    str | None,
    typer.Option(help="Comma-separated queues; default BASTION_JOBS__QUEUES."),
]
ConcurrencyOption = Annotated[
    int | None, typer.Option(min=1, help="Jobs at once; default BASTION_JOBS__CONCURRENCY.")
]
IdsArg = Annotated[list[str] | None, typer.Argument(help="Job ids; none with --all.")]
AllOption = Annotated[bool, typer.Option("--all", help="Every dead job.")]
BATCH = 100


def _runtime(app: FastAPI) -> JobsRuntime:
    runtime: JobsRuntime = app.state.bastion.extensions["jobs_runtime"]
    return runtime


def _queue(ctx: typer.Context) -> JobQueue:
    return _runtime(ctx.obj.require_app()).queue


@asynccontextmanager
async def _serving(app: FastAPI) -> AsyncIterator[asyncio.Event]:
    """The app's resources open (its lifespan, without an embedded worker) and an event
    that SIGTERM or SIGINT sets."""
    _runtime(app).embedded = False
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    async with app.router.lifespan_context(app):
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            yield stop
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)


def worker(
    ctx: typer.Context,
    queues: QueuesOption = None,
    concurrency: ConcurrencyOption = None,
    with_scheduler: Annotated[
        bool, typer.Option("--with-scheduler", help="Also run the cron scheduler.")
    ] = False,
    burst: Annotated[bool, typer.Option(help="Exit once no job is due.")] = False,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve this worker's Prometheus metrics on this port.")
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="Interface for --metrics-port.")] = "127.0.0.1",
) -> None:
    """Run jobs until SIGTERM/SIGINT; running jobs get the grace period, then go back."""
    app = ctx.obj.require_app()
    runtime = _runtime(app)
    chosen = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    if metrics_port is not None:
        from prometheus_client import start_http_server

        registry = app.state.bastion.extensions["metrics"].registry
        run(lambda: start_http_server(metrics_port, metrics_host, registry=registry))

    async def work() -> None:
        async with _serving(app) as stop:
            job_worker = runtime.worker(queues=chosen, concurrency=concurrency)
            if burst:
                await job_worker.run(stop, burst=True)
                return
            scheduler = runtime.scheduler() if with_scheduler else None
            async with runtime.running(worker=job_worker, scheduler=scheduler):
                await stop.wait()

    run_async(work)


def scheduler(ctx: typer.Context) -> None:
    """Enqueue cron jobs at their ticks until SIGTERM/SIGINT (several may run)."""
    app = ctx.obj.require_app()
    runtime = _runtime(app)

    async def schedule() -> None:
        async with (
            _serving(app) as stop,
            runtime.running(worker=None, scheduler=runtime.scheduler()),
        ):
            await stop.wait()

    run_async(schedule)


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")


@jobs_app.command()
def stats(ctx: typer.Context) -> None:
    """Jobs per queue: due, scheduled, running, dead."""
    rows = run_async(_queue(ctx).stats)
    table = Table("queue", "queued", "scheduled", "running", "dead")
    for row in rows:
        table.add_row(
            row.queue, *(str(n) for n in (row.queued, row.scheduled, row.running, row.dead))
        )
    Console().print(table)


@jobs_app.command("run-scheduled")
def run_scheduled(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The cron schedule.")]
) -> None:
    """Enqueue the job of cron schedule NAME now."""
    queue = _queue(ctx)
    job_id = run_async(lambda: queue.run_scheduled(name))
    typer.echo(f"enqueued {name}: {job_id}")


@jobs_app.command()
def get(ctx: typer.Context, job_id: Annotated[str, typer.Argument(help="The job id.")]) -> None:
    """Print one job as JSON: state, attempts, last error."""
    queue = _queue(ctx)
    info = run_async(lambda: queue.get(job_id))
    typer.echo(json.dumps(info.as_dict(), indent=2))


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    queue: Annotated[str | None, typer.Option(help="Only this queue.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Most jobs shown.")] = 50,
) -> None:
    """Dead jobs, most recent first."""
    jobs = _queue(ctx)
    dead = run_async(lambda: jobs.dead(queue, limit=limit))
    table = Table("id", "task", "queue", "attempts", "died", "error")
    for job in dead:
        last_line = (job.error or "").strip().splitlines()[-1:] or [""]
        table.add_row(
            job.id, job.task, job.queue, str(job.attempts), _when(job.finished_at), last_line[0]
        )
    Console().print(table)


@dlq_app.command("show")
def dlq_show(
    ctx: typer.Context, job_id: Annotated[str, typer.Argument(help="The job id.")]
) -> None:
    """One dead job: payload and the full traceback."""
    queue = _queue(ctx)
    info: JobInfo = run_async(lambda: queue.get(job_id))
    if info.state != "dead":
        fail(f"job {job_id} is {info.state}, not dead")
    typer.echo(
        f"{info.task} on {info.queue}, {info.attempts} attempts, died {_when(info.finished_at)}"
    )
    typer.echo(f"payload: {info.payload}")
    typer.echo(info.error or "")


def _in_batches(
    ctx: typer.Context,
    ids: list[str] | None,
    every: bool,
    verb: str,
    action: Callable[[JobQueue, list[str]], Awaitable[int]],
) -> None:
    if bool(ids) == every:
        fail("give job ids, or --all")
    queue = _queue(ctx)

    async def apply() -> int:
        chosen = ids or [job.id for job in await queue.dead(limit=10**9)]
        done = 0
        with Progress(transient=True) as progress:
            bar = progress.add_task(verb, total=len(chosen))
            for start in range(0, len(chosen), BATCH):
                done += await action(queue, chosen[start : start + BATCH])
                progress.advance(bar, len(chosen[start : start + BATCH]))
        return done

    count = run_async(apply)
    typer.echo(f"{verb} {count} dead job(s)")


@dlq_app.command("retry")
def dlq_retry(ctx: typer.Context, ids: IdsArg = None, every: AllOption = False) -> None:
    """Enqueue dead jobs again, attempts reset."""
    _in_batches(ctx, ids, every, "retried", lambda q, chunk: q.retry_dead(chunk))


@dlq_app.command("purge")
def dlq_purge(ctx: typer.Context, ids: IdsArg = None, every: AllOption = False) -> None:
    """Delete dead jobs for good."""
    _in_batches(ctx, ids, every, "purged", lambda q, chunk: q.purge_dead(chunk))
