"""Deliveries: fan an event out to its endpoints, run an attempt, schedule the next.

A delivery is claimed by one ``UPDATE ... WHERE status = 'pending' AND not
leased RETURNING`` before it is sent, so two jobs for the same delivery (a
relay that delivered an event twice, a sweep) never send it at once. Each
attempt is recorded with the delivery's new state in one transaction; the job
of the next attempt is enqueued after it. A due delivery whose job was lost
(a crash between the commit and the enqueue) is found by the sweep.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.core.clock import Clock
from bastion.core.db import Database
from bastion.core.db.upsert import insert_for
from bastion.core.http import HttpClient
from bastion.core.ids import uuid7
from bastion.jobs.service import JobQueue
from bastion.ops.http_breakers import HostBreakers
from bastion.outbox.store import Message
from bastion.security.crypto import SecretBox
from bastion.tenancy.scoping import bypass_tenancy, tenant_context
from bastion.webhooks.attempt import Outcome, Pacer, post
from bastion.webhooks.models import (
    FAILED,
    PENDING,
    SUCCEEDED,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from bastion.webhooks.settings import WebhooksSettings
from bastion.webhooks.ssrf import TargetPolicy

log = structlog.get_logger("bastion.webhooks")
DELIVER_TASK = "bastion.webhooks.deliver"
OnDisabled = Callable[[WebhookEndpoint, str], Awaitable[None]]
MAX_PACING_SLEEP = 1.0  # seconds a job waits for its endpoint's rate; longer: re-enqueued


class DeliverJob(BaseModel):
    """The payload of a delivery job."""

    delivery_id: uuid.UUID
    tenant_id: uuid.UUID


def secret_context(endpoint_id: uuid.UUID) -> bytes:
    return f"webhook-endpoint:{endpoint_id}".encode()


class Deliverer:
    def __init__(
        self,
        db: Database,
        client: HttpClient,
        box: SecretBox,
        queue: JobQueue,
        settings: WebhooksSettings,
        policy: TargetPolicy,
        *,
        clock: Clock,
        breakers: HostBreakers,
        on_disabled: OnDisabled | None = None,
    ) -> None:
        self.db = db
        self.client = client
        self.box = box
        self.queue = queue
        self.settings = settings
        self.policy = policy
        self.clock = clock
        self.breakers = breakers
        self.on_disabled = on_disabled
        self.lease = timedelta(seconds=settings.timeout_seconds + 30)
        self.pacer = Pacer(settings.rate_per_second)

    async def fan_out(self, message: Message) -> None:
        """The outbox handler: one delivery per subscribed endpoint, each a job."""
        event = message.payload
        tenant = uuid.UUID(event["tenant_id"])
        message_id = uuid.UUID(event["id"])
        with tenant_context(tenant):
            async with self.db.session() as session:
                insert = insert_for(self.db.dialect)
                await session.execute(
                    insert(WebhookMessage)
                    .values(
                        id=message_id,
                        tenant_id=tenant,
                        type=event["type"],
                        data=event["data"],
                        created_at=datetime.fromisoformat(event["timestamp"]),
                    )
                    .on_conflict_do_nothing()
                )
                endpoints = (
                    await session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.enabled))
                ).all()
                now = self.clock.now()
                rows = [
                    {
                        "id": uuid7(),
                        "tenant_id": tenant,
                        "message_id": message_id,
                        "endpoint_id": endpoint.id,
                        "status": PENDING,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for endpoint in endpoints
                    if event["type"] in endpoint.event_types
                    and str(endpoint.version) in event["data"]
                ]
                if rows:
                    await session.execute(insert(WebhookDelivery).on_conflict_do_nothing(), rows)
                pending = (
                    await session.scalars(
                        select(WebhookDelivery.id).where(
                            WebhookDelivery.message_id == message_id,
                            WebhookDelivery.status == PENDING,
                            WebhookDelivery.attempts == 0,
                        )
                    )
                ).all()
        for delivery_id in pending:
            await self.enqueue(delivery_id, tenant, 0.0)

    async def enqueue(self, delivery_id: uuid.UUID, tenant: uuid.UUID, delay: float) -> None:
        # No dedupe key: a second job for the same delivery finds it leased, finished
        # or not yet due, and does nothing (the claim below is the guard).
        await self.queue.enqueue(
            DELIVER_TASK,
            DeliverJob(delivery_id=delivery_id, tenant_id=tenant),
            delay=delay,
            queue=self.settings.queue,
        )

    async def deliver(self, delivery_id: uuid.UUID) -> Outcome | None:
        """Make the next attempt of a delivery (in its tenant's context); ``None`` when it
        is not due, leased by another job, or finished."""
        now = self.clock.now()
        claim = (
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == PENDING,
                WebhookDelivery.next_attempt_at <= now + timedelta(seconds=1),
                or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until <= now),
            )
            .values(locked_until=now + self.lease, attempts=WebhookDelivery.attempts + 1)
            .returning(
                WebhookDelivery.attempts, WebhookDelivery.endpoint_id, WebhookDelivery.message_id
            )
            .execution_options(synchronize_session=False)
        )
        this = update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
        async with self.db.session() as session:
            claimed = (await session.execute(claim)).one_or_none()
            if claimed is None:
                return None
            attempts, endpoint_id, message_id = claimed
            endpoint, message = (
                await session.execute(
                    select(WebhookEndpoint, WebhookMessage)
                    .join_from(WebhookEndpoint, WebhookMessage, WebhookMessage.id == message_id)
                    .where(WebhookEndpoint.id == endpoint_id)
                )
            ).one()
            if not endpoint.enabled:
                await session.execute(
                    this.values(status=FAILED, locked_until=None, finished_at=now)
                )
                return None
            wait = self.pacer.wait(endpoint.id)
            if wait > MAX_PACING_SLEEP:  # over the endpoint's rate: later, as no attempt
                later = now + timedelta(seconds=wait)
                await session.execute(
                    this.values(attempts=attempts - 1, locked_until=None, next_attempt_at=later)
                )
            url, secrets = endpoint.url, self._secrets(endpoint, now)
            body = envelope(message, endpoint.version)
        if wait > MAX_PACING_SLEEP:
            await self.enqueue(delivery_id, endpoint.tenant_id, wait)
            return None
        await asyncio.sleep(wait)
        outcome = await post(
            self.client,
            self.policy,
            self.breakers(str(endpoint.id)),
            url=url,
            message_id=str(message.id),
            body=body,
            secrets=secrets,
            timestamp=int(self.clock.now().timestamp()),
            excerpt_bytes=self.settings.response_excerpt_bytes,
            now=now,
        )
        retry_in = await self._record(delivery_id, endpoint, message.id, attempts, outcome)
        if retry_in is not None:
            await self.enqueue(delivery_id, endpoint.tenant_id, retry_in)
        return outcome

    def _secrets(self, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
        context = secret_context(endpoint.id)
        found = [self.box.decrypt(endpoint.secret, context=context).decode()]
        until = endpoint.previous_secret_until
        if endpoint.previous_secret and until is not None and until > now:
            found.append(self.box.decrypt(endpoint.previous_secret, context=context).decode())
        return found

    def retry_delay(self, attempts: int, outcome: Outcome) -> float | None:
        """Seconds before the next attempt, or ``None`` when the schedule is spent."""
        schedule = self.settings.retry_schedule
        if attempts >= len(schedule):
            return None
        delay = schedule[attempts]
        spread = self.settings.jitter * delay
        delay += random.uniform(-spread, spread)  # noqa: S311 - jitter, not a secret
        if outcome.retry_after is not None:
            delay = max(delay, min(outcome.retry_after, self.settings.max_retry_after_seconds))
        return max(0.0, delay)

    async def _record(
        self,
        delivery_id: uuid.UUID,
        endpoint: WebhookEndpoint,
        message_id: uuid.UUID,
        attempts: int,
        outcome: Outcome,
    ) -> float | None:
        """Store the attempt and the delivery's and endpoint's new state, in one
        transaction; the delay before the next attempt, if there is one."""
        now = self.clock.now()
        retry_in = (
            None if outcome.succeeded or outcome.gone else self.retry_delay(attempts, outcome)
        )
        delivery: dict[str, Any] = {"locked_until": None}
        if retry_in is None:
            delivery |= {"status": SUCCEEDED if outcome.succeeded else FAILED, "finished_at": now}
        else:
            delivery["next_attempt_at"] = now + timedelta(seconds=retry_in)
        attempt = {
            "tenant_id": endpoint.tenant_id,
            "delivery_id": delivery_id,
            "endpoint_id": endpoint.id,
            "message_id": message_id,
            "attempted_at": now,
            "status_code": outcome.status_code,
            "duration_ms": outcome.duration_ms,
            "succeeded": outcome.succeeded,
            "error": outcome.error,
            "response": outcome.response,
        }
        async with self.db.session() as session:
            await session.execute(insert(WebhookAttempt).values(attempt))
            await session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(delivery)
            )
            disabled = await self._endpoint_after(session, endpoint, outcome, now)
        if disabled is not None and self.on_disabled is not None:
            await self.on_disabled(endpoint, disabled)
        return retry_in

    async def _endpoint_after(
        self, session: AsyncSession, endpoint: WebhookEndpoint, outcome: Outcome, now: datetime
    ) -> str | None:
        """Update the endpoint's health; the reason it was disabled, if it just was."""
        this = update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id)
        if outcome.succeeded:
            if endpoint.failing_since is not None:  # as read when the attempt began
                await session.execute(this.values(failing_since=None))
            return None
        since = (
            await session.execute(
                this.values(failing_since=func.coalesce(WebhookEndpoint.failing_since, now))
                .returning(WebhookEndpoint.failing_since)
                .execution_options(synchronize_session=False)
            )
        ).scalar_one()
        assert since is not None  # just set
        reason = None
        if outcome.gone:
            reason = "the receiver answered 410 Gone"
        elif now - since >= timedelta(seconds=self.settings.disable_after_seconds):
            reason = f"failing continuously since {since.isoformat()}"
        if reason is None:
            return None
        disabled = await session.execute(
            this.where(WebhookEndpoint.enabled)
            .values(enabled=False, disabled_reason=reason)
            .returning(WebhookEndpoint.id)
            .execution_options(synchronize_session=False)
        )
        if disabled.scalar_one_or_none() is None:
            return None  # already disabled
        log.warning("webhooks.endpoint_disabled", endpoint=str(endpoint.id), reason=reason)
        return reason

    async def requeue(self, deliveries: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
        for delivery_id, tenant in deliveries:
            await self.enqueue(delivery_id, tenant, 0.0)

    async def sweep(self) -> int:
        """Enqueue due deliveries left without a job; returns how many."""
        before = self.clock.now() - timedelta(seconds=self.settings.sweep_after_seconds)
        with bypass_tenancy("webhooks sweep: due deliveries of every tenant"):
            async with self.db.session() as session:
                rows = (
                    await session.execute(
                        select(WebhookDelivery.id, WebhookDelivery.tenant_id)
                        .where(
                            WebhookDelivery.status == PENDING,
                            WebhookDelivery.next_attempt_at <= before,
                            or_(
                                WebhookDelivery.locked_until.is_(None),
                                WebhookDelivery.locked_until <= self.clock.now(),
                            ),
                        )
                        .limit(1000)
                    )
                ).all()
        await self.requeue([(r[0], r[1]) for r in rows])
        return len(rows)


def envelope(message: WebhookMessage, version: int) -> bytes:
    """The JSON body an endpoint pinned to ``version`` receives."""
    body: dict[str, Any] = {
        "id": str(message.id),
        "type": message.type,
        "version": version,
        "timestamp": message.created_at.isoformat(),
        "data": message.data[str(version)],
    }
    return json.dumps(body, separators=(",", ":")).encode()
