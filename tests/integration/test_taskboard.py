"""The reference app end to end in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from examples.taskboard.app import build
from tests.conftest import make_settings
from tests.signin import org_owner

pytestmark = [pytest.mark.example, pytest.mark.db]


FAST_HASHING = {"argon2_time_cost": 1, "argon2_memory_kib": 1024}


@pytest.fixture
async def client(client_for, database_url):
    """A client signed in as the owner of an organization, which it names in X-Tenant-ID."""
    settings = make_settings(database_url, ratelimit={"enabled": False}, security=FAST_HASHING)
    client = await client_for(build(settings))
    client.headers.update(await org_owner(client))
    return client


async def test_project_crud(client):
    created = await client.post("/projects", json={"name": "Apollo", "description": "moon"})
    assert created.status_code == 201
    project = created.json()
    assert project["created_at"].endswith(("+00:00", "Z"))
    url = f"/projects/{project['id']}"

    assert (await client.get(url)).json() == project
    patched = await client.patch(url, json={"name": "Artemis"})
    assert patched.status_code == 200
    assert patched.json()["name"] == "Artemis"
    assert patched.json()["description"] == "moon"

    assert (await client.delete(url)).status_code == 204
    missing = await client.get(url)
    assert missing.status_code == 404
    assert missing.json()["code"] == "taskboard.project_not_found"


async def test_tasks_belong_to_their_project(client):
    one = (await client.post("/projects", json={"name": "one"})).json()["id"]
    two = (await client.post("/projects", json={"name": "two"})).json()["id"]
    task = (await client.post(f"/projects/{one}/tasks", json={"title": "write"})).json()
    assert task["done"] is False

    done = await client.patch(f"/projects/{one}/tasks/{task['id']}", json={"done": True})
    assert done.json()["done"] is True
    other = await client.get(f"/projects/{two}/tasks/{task['id']}")
    assert other.status_code == 404
    assert other.json()["code"] == "taskboard.task_not_found"

    filtered = await client.get(f"/projects/{one}/tasks", params={"done": "false"})
    assert filtered.json()["items"] == []

    assert (await client.delete(f"/projects/{one}")).status_code == 204
    gone = await client.get(f"/projects/{one}/tasks/{task['id']}")
    assert gone.status_code == 404


async def test_cursor_pagination_walks_every_item_once(client):
    project = (await client.post("/projects", json={"name": "paged"})).json()["id"]
    created = []
    for i in range(7):
        response = await client.post(f"/projects/{project}/tasks", json={"title": f"t{i}"})
        created.append(response.json()["id"])

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"/projects/{project}/tasks", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == created
    assert pages == 3


async def test_bad_pagination_input_is_a_problem(client):
    bad_cursor = await client.get("/projects", params={"cursor": "garbage!"})
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["code"] == "request.invalid_cursor"
    too_many = await client.get("/projects", params={"limit": 10_000})
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["location"] == ["query", "limit"]


async def test_invalid_ids_and_bodies_are_422(client):
    assert (await client.get("/projects/not-a-uuid")).status_code == 422
    empty_name = await client.post("/projects", json={"name": ""})
    assert empty_name.status_code == 422
    assert empty_name.json()["errors"][0]["location"] == ["body", "name"]


async def test_concurrent_creates_all_land(client):
    responses = await asyncio.gather(
        *(client.post("/projects", json={"name": f"p{i}"}) for i in range(10))
    )
    assert {r.status_code for r in responses} == {201}
    listed = (await client.get("/projects", params={"limit": 50})).json()["items"]
    assert len(listed) == 10
