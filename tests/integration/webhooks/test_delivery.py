"""Deliveries over real HTTP to a receiver on 127.0.0.1, verified by ``standardwebhooks``."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

pytestmark = [pytest.mark.webhooks, pytest.mark.db]

TASK = {"id": "t1", "name": "write docs", "project": "p1"}


async def add_endpoint(client, url, *, version=2, types=("task.created",)):
    created = await client.post(
        "/webhooks/endpoints",
        json={"url": url, "event_types": list(types), "version": version, "description": "d"},
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()
    secret = (await client.get(f"/webhooks/endpoints/{endpoint['id']}/secret")).json()["secret"]
    return endpoint["id"], secret


async def attempts_of(client, endpoint_id):
    page = await client.get(f"/webhooks/endpoints/{endpoint_id}/attempts")
    assert page.status_code == 200, page.text
    return page.json()["items"]


async def test_signed_delivery_verifies_with_standardwebhooks(webhook_app, receiver):
    client, _ = await webhook_app()
    endpoint_id, secret = await add_endpoint(client, receiver.url)
    published = await client.post("/publish", json={"data": TASK})
    assert published.status_code == 200, published.text

    await receiver.wait_for(1)
    headers, body = receiver.requests[0]
    event = Webhook(secret).verify(body, headers)
    assert event["id"] == published.json()["id"] == headers["webhook-id"]
    assert event["type"] == "task.created"
    assert event["version"] == 2
    assert event["data"] == TASK
    assert set(event) == {"id", "type", "version", "timestamp", "data"}
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(body, headers)

    for _ in range(200):  # under load, the last attempt may take a while
        attempts = await attempts_of(client, endpoint_id)
        if attempts:
            break
        await asyncio.sleep(0.05)
    assert attempts[0]["succeeded"] is True
    assert attempts[0]["status_code"] == 200
    assert attempts[0]["response"] == "ok"


async def test_version_pinning(webhook_app, receiver):
    client, _ = await webhook_app()
    await add_endpoint(client, receiver.url, version=1)
    await add_endpoint(client, receiver.url, version=2)
    await client.post("/publish", json={"data": TASK})
    await receiver.wait_for(2)
    datas = sorted(
        (json.loads(body)["version"], json.loads(body)["data"]) for _, body in receiver.requests
    )
    assert datas == [(1, {"id": "t1", "title": "write docs"}), (2, TASK)]


async def test_rollback_sends_nothing(webhook_app, receiver):
    client, _ = await webhook_app()
    await add_endpoint(client, receiver.url)
    failed = await client.post("/publish", json={"data": TASK, "fail": True})
    assert failed.status_code == 409
    await client.post("/publish", json={"data": {**TASK, "id": "t2"}})
    await receiver.wait_for(1)
    await asyncio.sleep(0.5)  # the rolled-back event would have arrived by now
    assert [json.loads(body)["data"]["id"] for _, body in receiver.requests] == ["t2"]


async def test_bad_payload_is_the_producers_error(webhook_app):
    client, _ = await webhook_app()
    answer = await client.post("/publish", json={"data": {"id": "t1"}})
    assert answer.status_code == 500
    assert answer.json()["code"] == "webhook.invalid_payload"


async def test_rotation_signs_with_both_secrets(webhook_app, receiver):
    client, _ = await webhook_app()
    endpoint_id, old = await add_endpoint(client, receiver.url)
    rotated = await client.post(f"/webhooks/endpoints/{endpoint_id}/secret/rotate")
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != old and new.startswith("whsec_")
    await client.post("/publish", json={"data": TASK})
    await receiver.wait_for(1)
    headers, body = receiver.requests[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(body, headers)["data"] == TASK
    assert Webhook(new).verify(body, headers)["data"] == TASK


async def test_retries_until_success_then_410_disables(webhook_app, receiver):
    client, _ = await webhook_app()
    receiver.respond = lambda n: web.Response(status=500 if n < 3 else 200)
    endpoint_id, _ = await add_endpoint(client, receiver.url)
    await client.post("/publish", json={"data": TASK})
    await receiver.wait_for(3)
    for _ in range(200):  # under load, the last attempt may take a while
        attempts = await attempts_of(client, endpoint_id)
        if len(attempts) == 3:
            break
        await asyncio.sleep(0.05)
    assert [a["status_code"] for a in attempts] == [500, 500, 200]
    ids = {json.loads(body)["id"] for _, body in receiver.requests}
    assert len(ids) == 1  # the same message each time

    receiver.respond = lambda n: web.Response(status=410)
    await client.post("/publish", json={"data": TASK})
    await receiver.wait_for(4)
    for _ in range(200):  # under load, the last attempt may take a while
        endpoint = (await client.get(f"/webhooks/endpoints/{endpoint_id}")).json()
        if not endpoint["enabled"]:
            break
        await asyncio.sleep(0.05)
    assert endpoint["enabled"] is False
    assert "410" in endpoint["disabled_reason"]
    await asyncio.sleep(0.4)
    assert len(receiver.requests) == 4  # no retry after a 410


async def test_test_event_answers_with_the_outcome(webhook_app, receiver):
    client, _ = await webhook_app()
    receiver.respond = lambda n: web.Response(status=503, text="busy")
    endpoint_id, secret = await add_endpoint(client, receiver.url)
    outcome = await client.post(f"/webhooks/endpoints/{endpoint_id}/test")
    assert outcome.status_code == 200, outcome.text
    assert outcome.json()["succeeded"] is False
    assert outcome.json()["status_code"] == 503
    assert outcome.json()["response"] == "busy"
    headers, body = receiver.requests[0]
    assert Webhook(secret).verify(body, headers)["type"] == "webhook.test"


async def test_event_types_catalogue(webhook_app):
    client, _ = await webhook_app()
    types = {t["name"]: t for t in (await client.get("/webhooks/event-types")).json()}
    versions = types["task.created"]["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[1]["schema"]["properties"]["project"]["type"] == "string"
    assert "webhook.test" in types


async def test_recover_and_retry_resend_failed_deliveries(webhook_app, receiver):
    client, _ = await webhook_app(webhooks={"retry_schedule": [0]})  # one attempt only
    receiver.respond = lambda n: web.Response(status=500 if n == 1 else 200)
    endpoint_id, _ = await add_endpoint(client, receiver.url)
    since = datetime.now(UTC).isoformat()
    await client.post("/publish", json={"data": TASK})
    await receiver.wait_for(1)
    for _ in range(200):  # under load, the last attempt may take a while
        attempts = await attempts_of(client, endpoint_id)
        if attempts:
            break
        await asyncio.sleep(0.05)
    assert attempts[0]["status_code"] == 500  # and the delivery failed: no retry left

    recovered = await client.post(
        f"/webhooks/endpoints/{endpoint_id}/recover", params={"since": since}
    )
    assert recovered.json() == {"requeued": 1}
    await receiver.wait_for(2)
    for _ in range(200):  # the attempt is recorded just after the answer
        if len(await attempts_of(client, endpoint_id)) == 2:
            break
        await asyncio.sleep(0.05)
    retried = await client.post(f"/webhooks/messages/{attempts[0]['message_id']}/retry")
    assert retried.json() == {"requeued": 0}  # delivered now: nothing to re-send
    missing = await client.post(f"/webhooks/messages/{endpoint_id}/retry")
    assert missing.status_code == 404
    assert missing.json()["code"] == "webhook.message_not_found"


async def test_endpoints_belong_to_their_organization(webhook_app, receiver):
    client, _ = await webhook_app()
    endpoint_id, _ = await add_endpoint(client, receiver.url)
    listed = (await client.get("/webhooks/endpoints")).json()["items"]
    assert [e["id"] for e in listed] == [endpoint_id]

    other = await client.post("/orgs", json={"name": "Other"})
    client.headers["X-Tenant-ID"] = other.json()["id"]
    assert (await client.get("/webhooks/endpoints")).json()["items"] == []
    hidden = await client.get(f"/webhooks/endpoints/{endpoint_id}")
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "webhook.endpoint_not_found"
    await client.post("/publish", json={"data": TASK})  # the other org's event
    await asyncio.sleep(0.5)
    assert receiver.requests == []

    unknown = await client.post(
        "/webhooks/endpoints", json={"url": receiver.url, "event_types": ["nope.nothing"]}
    )
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "webhook.unknown_event_type"


async def test_a_dead_receiver_trips_the_endpoints_breaker(webhook_app, receiver):
    client, _ = await webhook_app(
        webhooks={
            "retry_schedule": [0, 0.05, 0.05, 0.05, 0.05, 0.05],
            "breaker_minimum_calls": 2,
            "breaker_open_seconds": 60,
        }
    )
    receiver.respond = lambda n: web.Response(status=503)
    endpoint_id, _ = await add_endpoint(client, receiver.url)
    await client.post("/publish", json={"data": TASK})
    for _ in range(100):
        attempts = await attempts_of(client, endpoint_id)
        if len(attempts) == 6:
            break
        await asyncio.sleep(0.05)
    assert len(attempts) == 6  # every attempt recorded, sent or not
    assert [a["status_code"] for a in attempts[:2]] == [503, 503]
    assert all(a["error"].startswith("CircuitOpen") for a in attempts[2:])
    assert len(receiver.requests) == 2  # not hammered once the breaker opened
