"""Idempotency-Key through the real app, on memory, SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import APIRouter, Depends

from bastion import ConfigurationError, create_app
from bastion.core.db import utcnow
from bastion.idempotency import Idempotent
from bastion.outbox import InboxEntry
from tests.conftest import make_settings
from tests.integration.idempotency.conftest import LEASE, Backend

pytestmark = pytest.mark.concurrency


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


async def test_repeat_replays_the_stored_response_byte_for_byte(backend: Backend):
    first = await backend.client.post("/items", json={"name": "a"}, headers=key("k1"))
    again = await backend.client.post("/items", json={"name": "a"}, headers=key("k1"))
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert backend.calls["items"] == 1


async def test_without_a_key_every_request_runs(backend: Backend):
    for _ in range(2):
        assert (await backend.client.post("/items", json={"name": "a"})).status_code == 201
    assert backend.calls["items"] == 2


async def test_concurrent_duplicates_run_the_route_once(backend: Backend):
    responses = await asyncio.gather(
        *(backend.client.post("/items", json={"name": "x"}, headers=key("race")) for _ in range(50))
    )
    assert backend.calls["items"] == 1
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    created = [r for r in responses if r.status_code == 201]
    assert len({r.content for r in created}) == 1
    assert sum(1 for r in created if "idempotent-replayed" not in r.headers) == 1
    for conflict in (r for r in responses if r.status_code == 409):
        assert conflict.json()["code"] == "idempotency.in_progress"
        assert conflict.headers["retry-after"] == "1"
    # Once the first is done, every repeat is a replay.
    late = await backend.client.post("/items", json={"name": "x"}, headers=key("race"))
    assert late.headers["idempotent-replayed"] == "true"
    assert late.content == created[0].content


async def test_the_same_key_with_another_payload_is_422(backend: Backend):
    await backend.client.post("/items", json={"name": "a"}, headers=key("k2"))
    other = await backend.client.post("/items", json={"name": "b"}, headers=key("k2"))
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency.key_reused"
    assert other.headers["content-type"] == "application/problem+json"
    elsewhere = await backend.client.put("/items/1", json={"name": "a"}, headers=key("k2"))
    assert elsewhere.status_code == 200  # PUT is not among the methods: the key is ignored
    assert backend.calls["items"] == 1


async def test_keys_belong_to_their_principal(backend: Backend):
    alice = await backend.client.post(
        "/items", json={"name": "a"}, headers=key("shared") | {"X-User": "alice"}
    )
    bob = await backend.client.post(
        "/items", json={"name": "a"}, headers=key("shared") | {"X-User": "bob"}
    )
    assert "idempotent-replayed" not in bob.headers
    assert alice.json()["number"] != bob.json()["number"]
    assert backend.calls["items"] == 2


async def test_stored_responses_expire(backend: Backend):
    first = await backend.client.post("/short", headers=key("k3"))
    assert (await backend.client.post("/short", headers=key("k3"))).content == first.content
    await backend.wait(1.2)
    store = backend.client._transport.app.state.bastion.extensions["idempotency"].store  # type: ignore[attr-defined]
    # The SQL and memory stores delete expired records; Redis has already dropped them.
    assert await store.purge() == (0 if backend.name == "redis" else 1)
    after = await backend.client.post("/short", headers=key("k3"))
    assert "idempotent-replayed" not in after.headers
    assert after.json() == {"call": 2}


async def test_an_exception_releases_the_key(backend: Backend):
    failed = await backend.client.post("/fragile?mode=raise", headers=key("k4"))
    assert failed.status_code == 500
    retried = await backend.client.post("/fragile?mode=raise", headers=key("k4"))
    assert retried.status_code == 500
    assert backend.calls["fragile"] == 2


async def test_a_failed_commit_releases_the_key(backend: Backend):
    db = backend.client._transport.app.state.bastion.db  # type: ignore[attr-defined]
    async with db.session() as session:
        session.add(InboxEntry(source="test", message_id="taken", processed_at=utcnow()))
    for _ in range(2):
        failed = await backend.client.post("/conflicting", headers=key("k8"))
        assert failed.status_code == 500
    assert backend.calls["conflicting"] == 2


async def test_5xx_responses_are_not_stored(backend: Backend):
    unavailable = await backend.client.post("/fragile?mode=503", headers=key("k5"))
    assert unavailable.status_code == 503
    again = await backend.client.post("/fragile?mode=503", headers=key("k5"))
    assert "idempotent-replayed" not in again.headers
    assert backend.calls["fragile"] == 2


async def test_a_hung_request_holds_its_key_for_the_lease(backend: Backend):
    url = "/fragile?mode=hang-first"
    hung = asyncio.create_task(backend.client.post(url, headers=key("k6")))
    while backend.calls["fragile"] == 0:
        await asyncio.sleep(0.01)
    blocked = await backend.client.post(url, headers=key("k6"))
    assert blocked.status_code == 409
    await backend.wait(LEASE + 0.2)
    retried = await backend.client.post(url, headers=key("k6"))
    assert retried.status_code == 200
    assert retried.json() == {"call": 2}
    hung.cancel()
    await asyncio.gather(hung, return_exceptions=True)
    # The first holder's late release does not free the key the retry completed.
    replay = await backend.client.post(url, headers=key("k6"))
    assert replay.headers["idempotent-replayed"] == "true"
    assert backend.calls["fragile"] == 2


async def test_a_route_can_require_the_key(backend: Backend):
    missing = await backend.client.post("/required")
    assert missing.status_code == 400
    assert missing.json()["code"] == "idempotency.key_required"
    ok = await backend.client.post("/required", headers=key("k7"))
    assert ok.status_code == 200


@pytest.mark.parametrize("bad", ["", "x" * 256, "caf\u00e9"])
async def test_unusable_keys_are_400(backend: Backend, bad: str):
    response = await backend.client.post(
        "/items", json={"name": "a"}, headers={"Idempotency-Key": bad.encode()}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency.key_invalid"
    assert backend.calls["items"] == 0


def test_a_route_without_the_route_class_stops_the_app(sqlite_url):
    router = APIRouter()

    @router.post("/orders", dependencies=[Depends(Idempotent())])
    async def order() -> None:
        return None

    with pytest.raises(ConfigurationError, match="APIRouter\\(route_class=IdempotentRoute\\)"):
        create_app(make_settings(sqlite_url), routers=[router])
