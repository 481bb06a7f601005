"""Jobs through the app: enqueue from routes (in the request's transaction), the
embedded worker, metrics, and the built-in cleanup schedule."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import APIRouter
from pydantic import BaseModel

from bastion import BastionError, Database, DbSession, bastion_state, create_app
from bastion.jobs import JobContext, JobQueue, Jobs, JobsRegistry, SqlJobStore
from bastion.lifecycle import migrations
from tests.conftest import make_settings

pytestmark = pytest.mark.jobs

registry = JobsRegistry()
done: list[tuple[str, int]] = []


class Greeting(BaseModel):
    name: str


@registry.task()
async def greet(payload: Greeting, context: JobContext) -> None:
    done.append((payload.name, context.attempt))


@registry.task()
async def linger(payload: Greeting) -> None:
    await asyncio.sleep(60)


class Refused(BastionError):
    code = "test.jobs_refused"
    status = 409
    title = "Refused"


router = APIRouter()


@router.post("/greet/{name}", status_code=202)
async def enqueue_greeting(name: str, jobs: Jobs, session: DbSession) -> dict[str, str]:
    job_id = await jobs.enqueue(greet, Greeting(name=name), session=session)
    if name == "nobody":
        raise Refused("rolled back with the job")
    return {"job_id": job_id}


@router.get("/jobs/{job_id}")
async def job_state(job_id: str, jobs: Jobs) -> dict[str, object]:
    info = await jobs.get(job_id)
    return {"state": info.state, "attempts": info.attempts}


async def wait_done(client, job_id: str) -> dict[str, object]:
    for _ in range(200):
        body = (await client.get(f"/jobs/{job_id}")).json()
        if body["state"] == "done":
            return body
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} never finished: {body}")


async def test_route_enqueues_in_its_transaction_and_embedded_worker_runs_it(
    database_url: str, client_for
) -> None:
    settings = make_settings(
        database_url, jobs={"backend": "sql", "embedded_worker": True, "poll_seconds": 0.05}
    )
    app = create_app(settings, routers=[router], jobs=registry)
    client = await client_for(app)
    done.clear()

    accepted = await client.post("/greet/ada")
    assert accepted.status_code == 202
    assert await wait_done(client, accepted.json()["job_id"]) == {"state": "done", "attempts": 1}
    assert done == [("ada", 1)]

    refused = await client.post("/greet/nobody")
    assert refused.status_code == 409
    queue: JobQueue = bastion_state(app).extensions["jobs"]
    assert [row.queued for row in await queue.stats()] in ([], [0])

    missing = await client.get("/jobs/01a2137b-0000-7000-8000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["code"] == "jobs.not_found"

    metrics = (await client.get("/metrics")).text
    # Counted at the enqueue call: the rolled back one too.
    assert 'bastion_jobs_enqueued_total{queue="default",task="greet"} 2.0' in metrics
    assert (
        'bastion_jobs_finished_total{outcome="completed",queue="default",task="greet"} 1.0'
        in metrics
    )
    assert "bastion_jobs_start_delay_seconds_bucket" in metrics


async def test_app_registry_holds_builtin_cleanup_and_schedule_file(
    sqlite_url: str, tmp_path
) -> None:
    schedule = tmp_path / "schedule.yaml"
    schedule.write_text(
        "nightly-greeting:\n  cron: '0 3 * * *'\n  task: greet\n"
        "  timezone: Europe/Paris\n  payload: {name: night}\n"
    )
    settings = make_settings(sqlite_url, jobs={"schedule_file": str(schedule)})
    app = create_app(settings, jobs=registry)
    queue: JobQueue = bastion_state(app).extensions["jobs"]
    # The schedule file's entry, beside the framework's own jobs (cleanups, sweeps).
    schedules = set(queue.registry.schedules)
    assert {"bastion.jobs.cleanup", "nightly-greeting"} <= schedules
    assert all(name.startswith("bastion.") for name in schedules - {"nightly-greeting"})
    nightly = queue.registry.schedules["nightly-greeting"]
    assert (nightly.task, nightly.timezone, nightly.payload) == (
        "greet",
        "Europe/Paris",
        {"name": "night"},
    )
    assert "greet" in queue.registry.tasks
    assert bastion_state(app).extensions["jobs_runtime"].embedded is False  # env=test


async def test_embedded_worker_releases_a_job_still_running_at_shutdown(sqlite_url: str) -> None:
    settings = make_settings(
        sqlite_url,
        jobs={"embedded_worker": True, "poll_seconds": 0.05, "grace_seconds": 0.1},
    )
    app = create_app(settings, jobs=registry)
    state = bastion_state(app)
    await migrations.upgrade(state.db, ())
    queue: JobQueue = state.extensions["jobs"]
    async with app.router.lifespan_context(app):
        job_id = await queue.enqueue(linger, Greeting(name="slow"))
        while (await queue.get(job_id)).state != "running":
            await asyncio.sleep(0.02)
    database = Database(sqlite_url)  # the app's engine is disposed by now
    try:
        released = await JobQueue(SqlJobStore(database), registry).get(job_id)
    finally:
        await database.dispose()
    assert (released.state, released.attempts, released.worker) == ("queued", 0, None)
