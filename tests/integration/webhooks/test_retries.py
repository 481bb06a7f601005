"""Retry escalation on a controlled clock: the schedule, Retry-After, giving up,
and disabling an endpoint that fails for too long."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from sqlalchemy import select

from bastion import bastion_state
from bastion.core.clock import ManualClock
from bastion.outbox import outbox_relay
from bastion.tenancy import tenant_context
from bastion.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint, webhooks_of
from tests.integration.webhooks.test_delivery import TASK, add_endpoint

pytestmark = [pytest.mark.webhooks, pytest.mark.db]
SCHEDULE = {"retry_schedule": [0, 5, 300, 1800], "jitter": 0, "disable_after_seconds": 3600}


async def test_schedule_retry_after_and_disabling(webhook_app, receiver):
    clock = ManualClock(datetime.now(UTC))
    disabled = []

    async def on_disabled(endpoint, reason):
        disabled.append((endpoint.url, reason))

    client, org = await webhook_app(
        clock=clock,
        on_disabled=on_disabled,
        webhooks=SCHEDULE,
        jobs={"embedded_worker": False},
    )
    app = client.app_under_test
    answers = iter(
        [
            web.Response(status=500, text="boom"),
            web.Response(status=503, headers={"Retry-After": "120"}),
            web.Response(status=429, headers={"Retry-After": "4000"}),
            web.Response(status=502),
        ]
    )
    receiver.respond = lambda n: next(answers)
    endpoint_id, _ = await add_endpoint(client, receiver.url)
    await client.post("/publish", json={"data": TASK})
    clock.advance(seconds=1)  # the outbox stamps messages with the real time
    assert await outbox_relay(app).run_once() == 1  # fan-out: one delivery, its job queued

    deliverer = webhooks_of(app).deliverer
    with tenant_context(org):
        async with bastion_state(app).db.session() as session:
            delivery = await session.scalar(select(WebhookDelivery))
        assert delivery is not None

        async def next_at():
            async with bastion_state(app).db.session() as session:
                row = await session.get(WebhookDelivery, delivery.id)
                return row.status, row.next_attempt_at - clock.now()

        assert (await deliverer.deliver(delivery.id)).status_code == 500
        assert await next_at() == ("pending", timedelta(seconds=5))
        assert await deliverer.deliver(delivery.id) is None  # not due yet: nothing sent
        assert len(receiver.requests) == 1

        clock.advance(seconds=5)
        assert (await deliverer.deliver(delivery.id)).status_code == 503
        # The schedule's 300 s beat the receiver's Retry-After of 120 s.
        assert await next_at() == ("pending", timedelta(seconds=300))

        clock.advance(seconds=300)
        assert (await deliverer.deliver(delivery.id)).status_code == 429
        # Retry-After: 4000 beats the schedule's 1800 s.
        assert await next_at() == ("pending", timedelta(seconds=4000))
        assert disabled == []

        clock.advance(seconds=4000)  # failing for more than an hour now
        assert (await deliverer.deliver(delivery.id)).status_code == 502
        status, _ = await next_at()
        assert status == "failed"  # the schedule is spent

        # (Over an hour passed on the app's clock: the API's access token expired, so
        # the rest is read through the service.)
        async with bastion_state(app).db.session() as session:
            attempts = (
                await session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id))
            ).all()
            endpoint = await session.get(WebhookEndpoint, uuid.UUID(endpoint_id))
            assert [a.status_code for a in attempts] == [500, 503, 429, 502]
            assert attempts[0].response == "boom"
            assert all(a.error and a.duration_ms >= 0 for a in attempts)
            assert endpoint.enabled is False
        assert disabled and disabled[0][0] == receiver.url

        # Re-enabled, the message is sent again on demand.
        receiver.respond = lambda n: web.Response(text="ok")
        service = webhooks_of(app).service
        async with bastion_state(app).db.session() as session:
            await service.update(session, endpoint.id, {"enabled": True})
            assert len(await service.retry_message(session, delivery.message_id)) == 1
        assert (await deliverer.deliver(delivery.id)).succeeded
