"""The reference app publishes project.created, task.created and task.updated; its
embedded worker (as in ``make run``) relays and delivers them with no other process."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook

from examples.taskboard.app import build
from tests.integration.webhooks.conftest import taskboard_settings
from tests.signin import sign_in_to_new_org

pytestmark = [pytest.mark.webhooks, pytest.mark.example, pytest.mark.db]


async def test_taskboard_events_reach_an_endpoint(client_for, sqlite_url, receiver):
    settings = taskboard_settings(sqlite_url)
    client = await client_for(build(settings))
    await sign_in_to_new_org(client)
    types = {t["name"] for t in (await client.get("/webhooks/event-types")).json()}
    assert {"project.created", "task.created", "task.updated"} <= types
    created = await client.post(
        "/webhooks/endpoints",
        json={
            "url": receiver.url,
            "event_types": ["project.created", "task.created", "task.updated"],
        },
    )
    assert created.status_code == 201, created.text
    endpoint_id = created.json()["id"]
    secret = (await client.get(f"/webhooks/endpoints/{endpoint_id}/secret")).json()["secret"]

    project = (await client.post("/projects", json={"name": "Apollo"})).json()
    task = (await client.post(f"/projects/{project['id']}/tasks", json={"title": "land"})).json()
    await client.patch(f"/projects/{project['id']}/tasks/{task['id']}", json={"done": True})

    await receiver.wait_for(3)
    events = [Webhook(secret).verify(body, headers) for headers, body in receiver.requests]
    by_type = {event["type"]: event["data"] for event in events}
    assert by_type["project.created"]["name"] == "Apollo"
    assert by_type["task.created"]["id"] == task["id"]
    assert by_type["task.updated"]["done"] is True
