"""Nothing lost: 1,000 events to a receiver that fails 30 % of the time at random,
is down (connection refused) for a stretch, and sometimes answers too late.

Every event is delivered; every attempt that reached the receiver is recorded;
a message arrives twice only after an attempt that timed out (the receiver had
answered 2xx too late), and those duplicates are counted.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter

import pytest
from aiohttp import web
from sqlalchemy import func, select

from bastion import bastion_state
from bastion.tenancy import bypass_tenancy
from bastion.webhooks import WebhookAttempt, WebhookDelivery, webhooks_of
from tests.integration.webhooks.test_delivery import TASK, add_endpoint

pytestmark = [pytest.mark.webhooks, pytest.mark.postgres, pytest.mark.concurrency]
EVENTS = 1000
SETTINGS = {
    "webhooks": {
        "retry_schedule": [0] + [0.3] * 60,
        "jitter": 0.5,
        "timeout_seconds": 0.5,
        "connect_timeout_seconds": 0.5,
        "rate_per_second": 10_000,
        "breaker_open_seconds": 0.3,
    },
    "jobs": {"concurrency": 32},
}


@pytest.fixture
def database_url(postgres_url):
    return postgres_url


async def test_a_thousand_events_through_failures(webhook_app):
    rng = random.Random(7)
    answered_ok: Counter[str] = Counter()
    late: set[str] = set()
    reached = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal reached
        reached += 1
        message_id = json.loads(await request.read())["id"]
        roll = rng.random()
        if roll < 0.3:
            return web.Response(status=500)
        if roll < 0.32:  # answers 2xx after the sender gave up: a duplicate will follow
            late.add(message_id)
            await asyncio.sleep(0.8)
        answered_ok[message_id] += 1
        return web.Response(text="ok")

    receiver = web.Application()
    receiver.router.add_post("/hook", handle)
    runner = web.AppRunner(receiver, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client, org = await webhook_app(**SETTINGS)
    app = client.app_under_test
    await add_endpoint(client, f"http://127.0.0.1:{port}/hook")

    async def outage() -> None:
        """Down for a stretch: the port refuses connections, then serves again."""
        await asyncio.sleep(1.0)
        await site.stop()
        await asyncio.sleep(2.0)
        await web.TCPSite(runner, "127.0.0.1", port).start()

    hooks = webhooks_of(app).registry
    db = bastion_state(app).db
    started = time.monotonic()
    down = asyncio.create_task(outage())
    ids = []
    for batch in range(10):
        async with db.session() as session:
            for n in range(EVENTS // 10):
                data = {**TASK, "id": f"t{batch}-{n}"}
                ids.append(str(await hooks.publish(session, "task.created", data, tenant_id=org)))
        await asyncio.sleep(0.2)  # events keep coming through the outage
    await down
    deadline = time.monotonic() + 50
    while set(answered_ok) != set(ids) and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
    elapsed = time.monotonic() - started
    assert set(answered_ok) == set(ids), f"{len(set(ids) - set(answered_ok))} not delivered"

    with bypass_tenancy("test: read every attempt"):
        async with db.session() as session:
            for _ in range(40):  # the last attempts are being recorded
                pending = await session.scalar(
                    select(func.count()).where(WebhookDelivery.status != "succeeded")
                )
                if pending == 0:
                    break
                await asyncio.sleep(0.25)
            attempts = (await session.execute(select(WebhookAttempt))).scalars().all()
    assert pending == 0
    succeeded = Counter(str(a.message_id) for a in attempts if a.succeeded)
    assert set(succeeded) == set(ids) and all(n == 1 for n in succeeded.values())
    reached_recorded = [a for a in attempts if a.status_code is not None or a.error == "timeout"]
    assert len(reached_recorded) == reached
    duplicates = {m: n for m, n in answered_ok.items() if n > 1}
    assert set(duplicates) <= late, "a duplicate without a timed-out attempt"
    await runner.cleanup()
    print(
        f"{EVENTS} events in {elapsed:.1f}s, {len(attempts)} attempts, "
        f"{sum(n - 1 for n in duplicates.values())} duplicates after timeouts"
    )
