"""Managing endpoints: create, change, rotate secrets, re-send; audit-logged.

Every method runs in the caller's session (the request's), inside the current
tenant: the tables are tenant-scoped, so another tenant's endpoint is not found.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.core.db import utcnow
from bastion.core.db.notify import notify_on_commit
from bastion.core.ids import uuid7
from bastion.security.audit import AuditLog, AuditRecord
from bastion.webhooks.attempt import Outcome
from bastion.webhooks.delivery import CHANNEL, Deliverer, secret_context
from bastion.webhooks.errors import EndpointNotFound, MessageNotFound, UnknownEventType
from bastion.webhooks.events import TEST_EVENT, WebhookRegistry, WebhookTestV1
from bastion.webhooks.models import (
    FAILED,
    PENDING,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from bastion.webhooks.signing import Scheme, new_key, scheme_of, shareable
from bastion.webhooks.ssrf import TargetPolicy


class EndpointService:
    def __init__(
        self,
        registry: WebhookRegistry,
        deliverer: Deliverer,
        policy: TargetPolicy,
        audit: AuditLog,
    ) -> None:
        self.registry = registry
        self.deliverer = deliverer
        self.policy = policy
        self.audit = audit
        self.settings = deliverer.settings
        self.box = deliverer.box

    def _check(self, event_types: Sequence[str], version: int) -> None:
        for name in event_types:
            self.registry.lookup(name, version)
        if not event_types:
            raise UnknownEventType("Subscribe the endpoint to at least one event type.")

    async def _audit(
        self, session: AsyncSession, action: str, endpoint: WebhookEndpoint, **data: Any
    ) -> None:
        record = AuditRecord(
            f"webhooks.{action}",
            org_id=endpoint.tenant_id,
            target=f"webhook_endpoint:{endpoint.id}",
            data=data,
        )
        await self.audit.append(session, record)

    async def create(
        self,
        session: AsyncSession,
        tenant: uuid.UUID,
        *,
        url: str,
        event_types: list[str],
        version: int,
        description: str,
        signature: Scheme = "v1",
    ) -> WebhookEndpoint:
        """A new endpoint signed with a fresh ``whsec_`` secret (``v1``) or ``whsk_``
        Ed25519 key (``v1a``)."""
        self.policy.check_url(url)
        self._check(event_types, version)
        endpoint_id = uuid7()
        secret = self._seal(endpoint_id, new_key(signature, self.settings.secret_bytes))
        endpoint = WebhookEndpoint(
            id=endpoint_id,
            tenant_id=tenant,
            url=url,
            event_types=list(event_types),
            version=version,
            description=description,
            enabled=True,
            secret=secret,
        )
        session.add(endpoint)
        await session.flush()
        await self._audit(session, "endpoint_created", endpoint, url=url, signature=signature)
        return endpoint

    async def get(self, session: AsyncSession, endpoint_id: uuid.UUID) -> WebhookEndpoint:
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None:
            raise EndpointNotFound(f"No webhook endpoint {endpoint_id} in this organization.")
        return endpoint

    async def update(
        self, session: AsyncSession, endpoint_id: uuid.UUID, changes: dict[str, Any]
    ) -> WebhookEndpoint:
        endpoint = await self.get(session, endpoint_id)
        if "url" in changes:
            self.policy.check_url(changes["url"])
        self._check(
            changes.get("event_types", endpoint.event_types),
            changes.get("version", endpoint.version),
        )
        for name, value in changes.items():
            setattr(endpoint, name, value)
        if changes.get("enabled"):
            endpoint.disabled_reason, endpoint.failing_since = None, None
        elif changes.get("enabled") is False:
            endpoint.disabled_reason = "disabled by a user"
        await session.flush()
        await self._audit(session, "endpoint_updated", endpoint, fields=sorted(changes))
        return endpoint

    async def delete(self, session: AsyncSession, endpoint_id: uuid.UUID) -> None:
        endpoint = await self.get(session, endpoint_id)
        await self._audit(session, "endpoint_deleted", endpoint, url=endpoint.url)
        await session.delete(endpoint)

    def _seal(self, endpoint_id: uuid.UUID, key: str) -> str:
        return self.box.encrypt(key.encode(), context=secret_context(endpoint_id))

    def _open(self, endpoint: WebhookEndpoint) -> str:
        return self.box.decrypt(endpoint.secret, context=secret_context(endpoint.id)).decode()

    async def secret(self, session: AsyncSession, endpoint_id: uuid.UUID) -> str:
        """What the receiver verifies with: the ``whsec_`` secret, or the ``whpk_``
        public key of a ``v1a`` endpoint (its private key never leaves)."""
        endpoint = await self.get(session, endpoint_id)
        await self._audit(session, "secret_read", endpoint)
        return shareable(self._open(endpoint))

    async def rotate(
        self, session: AsyncSession, endpoint_id: uuid.UUID, now: datetime
    ) -> tuple[str, datetime]:
        """A new key of the same scheme; the old one still signs for the grace period.
        Returns what the receiver verifies with (as :meth:`secret`) and when the old
        key stops signing."""
        endpoint = await self.get(session, endpoint_id)
        fresh = new_key(scheme_of(self._open(endpoint)), self.settings.secret_bytes)
        until = now + timedelta(seconds=self.settings.rotation_grace_seconds)
        endpoint.previous_secret, endpoint.previous_secret_until = endpoint.secret, until
        endpoint.secret = self._seal(endpoint.id, fresh)
        await self._audit(session, "secret_rotated", endpoint)
        return shareable(fresh), until

    async def reset(
        self, session: AsyncSession, *conditions: Any
    ) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """Put matching unfinished or failed deliveries back as due now (the
        dispatchers are woken by the commit); their ids."""
        rows = (
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.status.in_((PENDING, FAILED)), *conditions)
                .values(status=PENDING, attempts=0, next_attempt_at=utcnow(), finished_at=None)
                .returning(WebhookDelivery.id, WebhookDelivery.tenant_id)
                .execution_options(synchronize_session=False)
            )
        ).all()
        if rows:
            notify_on_commit(session, CHANNEL)
        return [(row[0], row[1]) for row in rows]

    async def retry_message(
        self, session: AsyncSession, message_id: uuid.UUID
    ) -> list[tuple[uuid.UUID, uuid.UUID]]:
        found = await session.scalar(
            select(WebhookDelivery.id).where(WebhookDelivery.message_id == message_id).limit(1)
        )
        if found is None:
            raise MessageNotFound(f"No webhook message {message_id} in this organization.")
        return await self.reset(session, WebhookDelivery.message_id == message_id)

    async def recover(
        self, session: AsyncSession, endpoint_id: uuid.UUID, since: datetime
    ) -> list[tuple[uuid.UUID, uuid.UUID]]:
        endpoint = await self.get(session, endpoint_id)
        await self._audit(session, "endpoint_recovered", endpoint, since=since.isoformat())
        return await self.reset(
            session,
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status == FAILED,
            WebhookDelivery.created_at >= since,
        )

    async def send_test(self, tenant: uuid.UUID, endpoint_id: uuid.UUID) -> Outcome | None:
        """Send a ``webhook.test`` event to one endpoint now; the attempt's outcome
        (``None`` if the endpoint is disabled). A failure is retried as usual."""
        data = self.registry.payloads(TEST_EVENT, WebhookTestV1())["1"]
        now = self.deliverer.clock.now()
        async with self.deliverer.db.session() as session:
            endpoint = await self.get(session, endpoint_id)
            message = WebhookMessage(
                id=uuid7(),
                tenant_id=tenant,
                type=TEST_EVENT,
                data={str(endpoint.version): data},
                created_at=now,
            )
            session.add(message)
            await session.flush()
            delivery = WebhookDelivery(
                tenant_id=tenant,
                message_id=message.id,
                endpoint_id=endpoint.id,
                status=PENDING,
                created_at=now,
                **self.deliverer.reserved(now),
            )
            session.add(delivery)
            await session.flush()
            delivery_id = delivery.id
        return await self.deliverer.deliver(delivery_id, leased=True)
