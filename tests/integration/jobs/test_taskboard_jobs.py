"""The reference app's job: a project summary, enqueued by a route, run by the embedded worker."""

from __future__ import annotations

import asyncio

import pytest

from examples.taskboard.app import build
from tests.conftest import FAST_HASHING, make_settings
from tests.signin import sign_in_to_new_org

pytestmark = [pytest.mark.jobs, pytest.mark.example]


async def test_summary_job_runs_in_the_embedded_worker(client_for, database_url: str) -> None:
    settings = make_settings(
        database_url, jobs={"embedded_worker": True, "poll_seconds": 0.05}, **FAST_HASHING
    )
    client = await client_for(build(settings))
    await sign_in_to_new_org(client)
    project = (await client.post("/projects", json={"name": "Launch"})).json()
    await client.post(f"/projects/{project['id']}/tasks", json={"title": "Write docs"})

    first = await client.post(f"/projects/{project['id']}/summary")
    assert first.status_code == 202
    job_id = first.json()["job_id"]
    for _ in range(200):
        state = (await client.get(f"/projects/summaries/{job_id}")).json()
        if state["state"] == "done":
            break
        await asyncio.sleep(0.02)
    assert state == {"state": "done", "attempts": 1, "error": None}

    missing = await client.post("/projects/01a2137b-0000-7000-8000-000000000000/summary")
    assert missing.status_code == 404
    unknown = await client.get("/projects/summaries/01a2137b-0000-7000-8000-000000000000")
    assert unknown.json()["code"] == "jobs.not_found"
