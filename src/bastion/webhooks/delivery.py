"""Deliveries: fan events out to their endpoints, claim due deliveries, send them,
record what happened and when to try again.

The outbox relay hands the fan-out every webhook event of a batch at once: one
transaction stores the messages and one *delivery* per subscribed endpoint. Due
deliveries are claimed in batches by one ``UPDATE ... RETURNING`` that leases them
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so dispatchers in several processes
never claim the same row); the attempts of many deliveries are then recorded
together, in one transaction with the deliveries' and endpoints' new state. A
delivery whose dispatcher died keeps its lease until it runs out, and is then
claimed again (at least once). :mod:`bastion.webhooks.dispatcher` runs the loop.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.core.clock import Clock
from bastion.core.db import Database
from bastion.core.db.notify import notify_on_commit
from bastion.core.db.upsert import insert_for
from bastion.core.http import HttpClient
from bastion.core.ids import uuid7
from bastion.ops.http_breakers import HostBreakers
from bastion.ops.metrics import Metrics
from bastion.outbox.store import Message
from bastion.security.crypto import SecretBox
from bastion.security.errors import DecryptionFailed
from bastion.tenancy.scoping import bypass_tenancy
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
CHANNEL = "bastion_webhooks"  # NOTIFY: deliveries are due now
CLAIMED = (
    WebhookDelivery.id,
    WebhookDelivery.attempts,
    WebhookDelivery.endpoint_id,
    WebhookDelivery.message_id,
)
OnDisabled = Callable[[WebhookEndpoint, str], Awaitable[None]]
# Seconds a sender waits for its endpoint's rate; longer, the delivery is put back
# until then (a sender sleeping for one endpoint holds up the others).
MAX_PACING_SLEEP = 0.1
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)


def secret_context(endpoint_id: uuid.UUID) -> bytes:
    return f"webhook-endpoint:{endpoint_id}".encode()


@dataclass(frozen=True)
class Claimed:
    """A leased delivery, ready to send: its ``attempts`` include this one."""

    id: uuid.UUID
    attempts: int
    endpoint: WebhookEndpoint
    message_id: uuid.UUID
    body: bytes
    secrets: list[str]


@dataclass(frozen=True)
class Result:
    """What became of a claimed delivery: an attempt's ``outcome``; or none, when the
    endpoint was disabled meanwhile (``outcome`` ``None``, ``later`` ``None``) or over
    its rate (``later``: when to try instead, not counted as an attempt)."""

    claimed: Claimed
    outcome: Outcome | None
    later: datetime | None = None


class Deliverer:
    def __init__(
        self,
        db: Database,
        client: HttpClient,
        box: SecretBox,
        settings: WebhooksSettings,
        policy: TargetPolicy,
        *,
        clock: Clock,
        breakers: HostBreakers,
        metrics: Metrics,
        on_disabled: OnDisabled | None = None,
    ) -> None:
        self.db = db
        self.client = client
        self.box = box
        self.settings = settings
        self.policy = policy
        self.clock = clock
        self.breakers = breakers
        self.on_disabled = on_disabled
        self.lease = timedelta(seconds=settings.timeout_seconds + 30)
        self.pacer = Pacer(settings.rate_per_second)
        self.due = asyncio.Event()  # set when this process created due deliveries
        self._attempts = metrics.counter(
            "bastion_webhook_attempts_total",
            "Webhook delivery attempts by outcome (succeeded, failed).",
            ["outcome"],
        )
        self._duration = metrics.histogram(
            "bastion_webhook_attempt_duration_seconds",
            "Time of one webhook POST, from sending to the answer or the failure.",
            buckets=DURATION_BUCKETS,
        )

    async def fan_out(self, messages: Sequence[Message]) -> None:
        """The outbox batch handler: store the events and one delivery per subscribed
        endpoint, in one transaction (replays of a message add nothing)."""
        events = [message.payload for message in messages]
        tenants = {uuid.UUID(event["tenant_id"]) for event in events}
        now = self.clock.now()
        upsert = insert_for(self.db.dialect)
        with bypass_tenancy("webhooks fan-out: a batch of events", routine=True):
            async with self.db.session() as session:
                await session.execute(
                    upsert(WebhookMessage).on_conflict_do_nothing(),
                    [
                        {
                            "id": uuid.UUID(event["id"]),
                            "tenant_id": uuid.UUID(event["tenant_id"]),
                            "type": event["type"],
                            "data": event["data"],
                            "created_at": datetime.fromisoformat(event["timestamp"]),
                        }
                        for event in events
                    ],
                )
                endpoints = (
                    await session.execute(
                        select(
                            WebhookEndpoint.id,
                            WebhookEndpoint.tenant_id,
                            WebhookEndpoint.event_types,
                            WebhookEndpoint.version,
                        ).where(WebhookEndpoint.enabled, WebhookEndpoint.tenant_id.in_(tenants))
                    )
                ).all()
                rows = [
                    {
                        "id": uuid7(),
                        "tenant_id": tenant,
                        "message_id": uuid.UUID(event["id"]),
                        "endpoint_id": endpoint_id,
                        "status": PENDING,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for event in events
                    for endpoint_id, tenant, types, version in endpoints
                    if str(tenant) == event["tenant_id"]
                    and event["type"] in types
                    and str(version) in event["data"]
                ]
                if rows:
                    await session.execute(upsert(WebhookDelivery).on_conflict_do_nothing(), rows)
                    notify_on_commit(session, CHANNEL)
        if rows:
            self.due.set()

    async def claim(self, limit: int, *, only: uuid.UUID | None = None) -> list[Claimed]:
        """Lease up to ``limit`` due deliveries (or just ``only``, if due) and load what
        sending them needs. Deliveries whose endpoint is gone are not returned."""
        now = self.clock.now()
        due: list[ColumnElement[bool]] = [
            WebhookDelivery.status == PENDING,
            or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until <= now),
        ]
        if only is not None:
            # (A second of slack: an explicit attempt right when it falls due.)
            due += [
                WebhookDelivery.id == only,
                WebhookDelivery.next_attempt_at <= now + timedelta(seconds=1),
            ]
        else:
            due.append(WebhookDelivery.next_attempt_at <= now)
        picked = (
            select(WebhookDelivery.id)
            .where(*due)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return await self._load(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(picked.scalar_subquery()))
            .values(locked_until=now + self.lease, attempts=WebhookDelivery.attempts + 1)
            .returning(*CLAIMED)
            .execution_options(synchronize_session=False),
            now,
        )

    async def _load(self, leasing: Any, now: datetime) -> list[Claimed]:
        """Run ``leasing`` (rows of :data:`CLAIMED` columns) and load their endpoints
        and messages."""
        async with self.db.session() as session:
            leased = (await session.execute(leasing)).all()
            if not leased:
                return []
            endpoint_ids = {row.endpoint_id for row in leased}
            endpoints = {
                endpoint.id: endpoint
                for endpoint in await session.scalars(
                    select(WebhookEndpoint).where(WebhookEndpoint.id.in_(endpoint_ids))
                )
            }
            messages = {
                row.id: row
                for row in await session.execute(
                    select(
                        WebhookMessage.id,
                        WebhookMessage.type,
                        WebhookMessage.data,
                        WebhookMessage.created_at,
                    ).where(WebhookMessage.id.in_({row.message_id for row in leased}))
                )
            }
        secrets = {e.id: self._secrets(e, now) for e in endpoints.values() if e.enabled}
        return [
            Claimed(
                row.id,
                row.attempts,
                endpoints[row.endpoint_id],
                row.message_id,
                envelope(messages[row.message_id], endpoints[row.endpoint_id].version),
                secrets.get(row.endpoint_id, []),
            )
            for row in leased
            if row.endpoint_id in endpoints  # (a deleted endpoint cascades its deliveries)
        ]

    async def send(self, claimed: Claimed) -> Result:
        """Make the attempt of a claimed delivery (after waiting for its endpoint's rate)."""
        endpoint = claimed.endpoint
        if not endpoint.enabled:
            return Result(claimed, None)
        if not claimed.secrets:
            error = "the endpoint's secret cannot be unsealed (see webhooks.secret_unreadable)"
            return Result(claimed, Outcome(self.clock.now(), False, None, 0.0, error))
        wait = self.pacer.reserve(endpoint.id, MAX_PACING_SLEEP)
        if wait > MAX_PACING_SLEEP:
            return Result(claimed, None, later=self.clock.now() + timedelta(seconds=wait))
        await asyncio.sleep(wait)
        now = self.clock.now()
        outcome = await post(
            self.client,
            self.policy,
            self.breakers(str(endpoint.id)),
            url=endpoint.url,
            message_id=str(claimed.message_id),
            body=claimed.body,
            secrets=claimed.secrets,
            timestamp=int(now.timestamp()),
            excerpt_bytes=self.settings.response_excerpt_bytes,
            now=now,
        )
        self._attempts.labels("succeeded" if outcome.succeeded else "failed").inc()
        self._duration.observe(outcome.duration_ms / 1000)
        return Result(claimed, outcome)

    async def deliver(self, delivery_id: uuid.UUID, *, leased: bool = False) -> Outcome | None:
        """Make the next attempt of one delivery now and record it; ``None`` when it is
        not due, leased by another dispatcher, finished, or its endpoint is disabled.
        ``leased``: the caller created it already leased (see :meth:`reserved`)."""
        if leased:
            this = WebhookDelivery.id == delivery_id, WebhookDelivery.status == PENDING
            claimed = await self._load(select(*CLAIMED).where(*this), self.clock.now())
        else:
            claimed = await self.claim(1, only=delivery_id)
        if not claimed:
            return None
        result = await self.send(claimed[0])
        await self.record([result])
        return result.outcome

    def reserved(self, now: datetime) -> dict[str, Any]:
        """The columns of a new delivery leased to the code that creates it (no
        dispatcher takes it) for one attempt it then makes with ``deliver(leased=True)``;
        if that never happens, a dispatcher sends it when the lease runs out."""
        return {"attempts": 1, "locked_until": now + self.lease, "next_attempt_at": now}

    def _secrets(self, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
        """The endpoint's signing secrets; none if they cannot be unsealed (its
        deliveries then fail, logged, instead of stopping the others)."""
        context = secret_context(endpoint.id)
        sealed = [endpoint.secret]
        until = endpoint.previous_secret_until
        if endpoint.previous_secret and until is not None and until > now:
            sealed.append(endpoint.previous_secret)
        try:
            return [self.box.decrypt(secret, context=context).decode() for secret in sealed]
        except DecryptionFailed as exc:
            log.error("webhooks.secret_unreadable", endpoint=str(endpoint.id), error=repr(exc))
            return []

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

    async def record(self, results: Sequence[Result]) -> None:
        """Store the attempts and the deliveries' and endpoints' new state, in one
        transaction; then call the notification hook of each endpoint it disabled."""
        now = self.clock.now()
        attempts: list[dict[str, Any]] = []
        succeeded: list[uuid.UUID] = []
        changed: list[dict[str, Any]] = []
        last: dict[uuid.UUID, tuple[WebhookEndpoint, Outcome]] = {}
        for result in results:
            claimed, outcome = result.claimed, result.outcome
            if outcome is None:
                state: dict[str, Any] = (
                    {"status": FAILED, "finished_at": now}  # the endpoint is disabled
                    if result.later is None
                    else {"attempts": claimed.attempts - 1, "next_attempt_at": result.later}
                )
                changed.append({"id": claimed.id, "locked_until": None} | state)
                continue
            endpoint = claimed.endpoint
            previous = last.get(endpoint.id)
            last[endpoint.id] = (
                endpoint,
                outcome if previous is None else _worse(previous[1], outcome),
            )
            attempts.append(_attempt(claimed, outcome))
            if outcome.succeeded:
                succeeded.append(claimed.id)
                continue
            retry_in = None if outcome.gone else self.retry_delay(claimed.attempts, outcome)
            state = (
                {"status": FAILED, "finished_at": now}
                if retry_in is None
                else {"next_attempt_at": now + timedelta(seconds=retry_in)}
            )
            changed.append({"id": claimed.id, "locked_until": None} | state)
        disabled: list[tuple[WebhookEndpoint, str]] = []
        async with self.db.session() as session:
            if attempts:
                await session.execute(insert(WebhookAttempt), attempts)
            if succeeded:
                await session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id.in_(succeeded))
                    .values(status=SUCCEEDED, locked_until=None, finished_at=now)
                    .execution_options(synchronize_session=False)
                )
            for rows in _same_keys(changed):
                await session.execute(update(WebhookDelivery), rows)
            for endpoint, outcome in last.values():
                reason = await self._endpoint_after(session, endpoint, outcome, now)
                if reason is not None:
                    disabled.append((endpoint, reason))
        if self.on_disabled is not None:
            for endpoint, reason in disabled:
                await self.on_disabled(endpoint, reason)

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
        ).scalar_one_or_none()
        if since is None:  # deleted meanwhile
            return None
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


def _attempt(claimed: Claimed, outcome: Outcome) -> dict[str, Any]:
    return {
        "id": uuid7(),
        "tenant_id": claimed.endpoint.tenant_id,
        "delivery_id": claimed.id,
        "endpoint_id": claimed.endpoint.id,
        "message_id": claimed.message_id,
        "attempted_at": outcome.started_at,
        "status_code": outcome.status_code,
        "duration_ms": outcome.duration_ms,
        "succeeded": outcome.succeeded,
        "error": outcome.error,
        "response": outcome.response,
    }


def _worse(first: Outcome, then: Outcome) -> Outcome:
    """Of two outcomes for one endpoint in a batch, the one its health follows: a
    ``410 Gone`` wins, otherwise the later one."""
    return first if first.gone else then


def _same_keys(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """``rows`` grouped by their set of keys (one executemany ``UPDATE`` per group)."""
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(frozenset(row), []).append(row)
    return list(groups.values())


def envelope(message: Any, version: int) -> bytes:
    """The JSON body an endpoint pinned to ``version`` receives (``message``: a
    :class:`WebhookMessage` or a row with its columns)."""
    body: dict[str, Any] = {
        "id": str(message.id),
        "type": message.type,
        "version": version,
        "timestamp": message.created_at.isoformat(),
        "data": message.data[str(version)],
    }
    return json.dumps(body, separators=(",", ":")).encode()
