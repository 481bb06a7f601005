"""The dispatcher: batches claimed once across dispatchers, stopping records what
is in hand, a broken endpoint does not hold up the others."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter

import pytest
from sqlalchemy import func, select, update

from bastion import bastion_state
from bastion.outbox import outbox_relay
from bastion.tenancy import bypass_tenancy
from bastion.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint, webhooks_of
from bastion.webhooks.dispatcher import Dispatcher
from tests.integration.webhooks.test_delivery import TASK, add_endpoint

pytestmark = [pytest.mark.webhooks, pytest.mark.db]
# No embedded worker: the test runs the relay and the dispatchers itself.
MANUAL = {"jobs": {"embedded_worker": False}, "webhooks": {"batch_size": 7, "concurrency": 3}}


async def published(client, count: int) -> None:
    app = client.app_under_test
    for n in range(count):
        answer = await client.post("/publish", json={"data": {**TASK, "id": f"t{n}"}})
        assert answer.status_code == 200, answer.text
    while await outbox_relay(app).run_once():  # fan-out: the deliveries are stored
        pass


async def count(app, *conditions) -> int:
    with bypass_tenancy("test: count deliveries"):
        async with bastion_state(app).db.session() as session:
            return int(await session.scalar(select(func.count()).where(*conditions)) or 0)


async def until(condition, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.05)


async def test_two_dispatchers_send_each_delivery_once(webhook_app, receiver):
    client, _ = await webhook_app(**MANUAL)
    app = client.app_under_test
    await add_endpoint(client, receiver.url)
    await published(client, 60)
    deliverer = webhooks_of(app).deliverer
    stop = asyncio.Event()
    running = [asyncio.ensure_future(Dispatcher(deliverer).run(stop)) for _ in range(2)]

    async def all_recorded() -> bool:
        return await count(app, WebhookDelivery.status == "succeeded") == 60

    await until(all_recorded)
    stop.set()
    await asyncio.gather(*running)
    ids = Counter(json.loads(body)["data"]["id"] for _, body in receiver.requests)
    assert len(ids) == 60 and set(ids.values()) == {1}  # each sent exactly once
    assert await count(app, WebhookAttempt.succeeded) == 60


async def test_stopping_records_the_sends_in_hand(webhook_app, receiver):
    client, _ = await webhook_app(**MANUAL)
    app = client.app_under_test
    await add_endpoint(client, receiver.url)
    await published(client, 10)
    stop = asyncio.Event()
    running = asyncio.ensure_future(Dispatcher(webhooks_of(app).deliverer).run(stop))
    await receiver.wait_for(1)
    stop.set()  # some sends are in flight, some results not recorded yet
    await running
    sent = len(receiver.requests)
    assert await count(app, WebhookAttempt.succeeded) == sent  # every send is recorded
    assert await count(app, WebhookDelivery.locked_until.is_not(None)) == 0  # no lease left
    assert await count(app, WebhookDelivery.status == "pending") == 10 - sent


async def test_an_endpoint_whose_secret_is_unreadable_fails_alone(webhook_app, receiver):
    client, _ = await webhook_app(**MANUAL)
    app = client.app_under_test
    broken, _ = await add_endpoint(client, receiver.url + "?broken")
    await add_endpoint(client, receiver.url)
    with bypass_tenancy("test: damage a sealed secret"):
        async with bastion_state(app).db.session() as session:
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.url.endswith("?broken"))
                .values(secret="v1.AAAA.damaged")
            )
    await published(client, 3)
    stop = asyncio.Event()
    running = asyncio.ensure_future(Dispatcher(webhooks_of(app).deliverer).run(stop))

    async def settled() -> bool:
        return await count(app, WebhookAttempt.id.is_not(None)) == 6

    await until(settled)
    stop.set()
    await running
    assert len(receiver.requests) == 3  # the healthy endpoint got every event
    with bypass_tenancy("test: read the broken endpoint's attempts"):
        async with bastion_state(app).db.session() as session:
            errors = (
                await session.scalars(
                    select(WebhookAttempt.error).where(
                        WebhookAttempt.endpoint_id == uuid.UUID(broken)
                    )
                )
            ).all()
    assert len(errors) == 3
    assert all("cannot be unsealed" in (error or "") for error in errors)


async def test_an_endpoints_rate_caps_its_deliveries(webhook_app, receiver):
    rate = 10.0
    client, _ = await webhook_app(
        jobs={"embedded_worker": False},
        webhooks={"rate_per_second": rate, "batch_size": 50, "poll_seconds": 0.05},
    )
    app = client.app_under_test
    await add_endpoint(client, receiver.url)
    arrived: list[float] = []
    respond = receiver.respond

    def timed(n):
        arrived.append(asyncio.get_running_loop().time())
        return respond(n)

    receiver.respond = timed
    await published(client, 25)
    stop = asyncio.Event()
    running = asyncio.ensure_future(Dispatcher(webhooks_of(app).deliverer).run(stop))
    await receiver.wait_for(25, timeout=30)
    stop.set()
    await running
    # 25 sends at most 10 per second: the last at least 2.4 s after the first (less
    # a little for the network); each delivery took one attempt (putting one back
    # until its slot is not an attempt).
    assert arrived[-1] - arrived[0] >= (25 - 1) / rate * 0.9
    assert await count(app, WebhookAttempt.succeeded) == 25
    assert await count(app, WebhookDelivery.attempts != 1) == 0
