"""The reference app end to end in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from bastion.outbox import outbox_relay
from examples.taskboard.app import build
from tests.conftest import FAST_HASHING, make_settings
from tests.signin import sign_in_to_new_org

pytestmark = [pytest.mark.example, pytest.mark.db]


@pytest.fixture
async def client(client_for, database_url):
    client = await client_for(build(make_settings(database_url, **FAST_HASHING)))
    await sign_in_to_new_org(client)
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


async def test_creation_is_idempotent(client):
    key = {"Idempotency-Key": "create-apollo"}
    first = await client.post("/projects", json={"name": "Apollo"}, headers=key)
    again = await client.post("/projects", json={"name": "Apollo"}, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == f"/projects/{first.json()['id']}"
    other = await client.post("/projects", json={"name": "Gemini"}, headers=key)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency.key_reused"
    assert len((await client.get("/projects")).json()["items"]) == 1

    url = f"/projects/{first.json()['id']}/tasks"
    task = await client.post(url, json={"title": "t"}, headers={"Idempotency-Key": "t1"})
    replay = await client.post(url, json={"title": "t"}, headers={"Idempotency-Key": "t1"})
    assert replay.content == task.content
    assert len((await client.get(url)).json()["items"]) == 1


async def test_projects_and_tasks_use_etags(client):
    created = await client.post("/projects", json={"name": "Apollo"})
    assert created.headers["etag"] == 'W/"1"'
    url = created.headers["location"]
    renamed = await client.patch(url, json={"name": "Artemis"}, headers={"If-Match": 'W/"1"'})
    assert renamed.headers["etag"] == 'W/"2"'
    assert renamed.json()["version"] == 2
    stale = await client.patch(url, json={"name": "Gemini"}, headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert stale.json()["code"] == "concurrency.precondition_failed"
    task = await client.post(f"{url}/tasks", json={"title": "t"})
    task_url = task.headers["location"]
    assert (await client.get(task_url)).headers["etag"] == 'W/"1"'
    done = await client.patch(task_url, json={"done": True}, headers={"If-Match": 'W/"1"'})
    assert done.headers["etag"] == 'W/"2"'
    stale_delete = await client.delete(task_url, headers={"If-Match": 'W/"1"'})
    assert stale_delete.status_code == 412
    assert (await client.delete(task_url, headers={"If-Match": 'W/"2"'})).status_code == 204
    assert (await client.delete(url, headers={"If-Match": 'W/"2"'})).status_code == 204


async def test_task_created_events_reach_their_handler(client):
    project = (await client.post("/projects", json={"name": "Apollo"})).json()["id"]
    for title in ("a", "b", "c"):
        await client.post(f"/projects/{project}/tasks", json={"title": title})
    relay = outbox_relay(client._transport.app)
    # One key per project: one task.created at a time, in order (beside the four
    # webhook events, which have no key).
    assert await relay.run_once() == 1 + 4
    while await relay.run_once():
        pass
    metrics = (await client.get("/metrics")).text
    assert "taskboard_tasks_created_total 3.0" in metrics
    assert 'bastion_outbox_messages_total{outcome="sent",topic="task.created"} 3.0' in metrics


@pytest.mark.parametrize(
    "where",
    [
        {"outbox": {"relay_in_app": True, "poll_seconds": 0.05}},
        {"outbox": {"poll_seconds": 0.05}, "jobs": {"embedded_worker": True}},
    ],
    ids=["relay-in-app", "beside-the-embedded-worker"],
)
async def test_a_relay_runs_inside_the_app(client_for, sqlite_url, where):
    settings = make_settings(sqlite_url, **where, **FAST_HASHING)
    client = await client_for(build(settings))
    await sign_in_to_new_org(client)
    project = (await client.post("/projects", json={"name": "Apollo"})).json()["id"]
    await client.post(f"/projects/{project}/tasks", json={"title": "t"})
    for _ in range(100):
        if "taskboard_tasks_created_total 1.0" in (await client.get("/metrics")).text:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the in-app relay did not deliver task.created")
