"""Tables of webhooks: endpoints, messages (events), deliveries and their attempts.

Every table is tenant-scoped: a tenant's queries see only its own rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from bastion.core.db import Base, Timestamps, UTCDateTime, UUIDPrimaryKey
from bastion.tenancy.scoping import TenantScoped

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"


class WebhookEndpoint(UUIDPrimaryKey, TenantScoped, Timestamps, Base):
    """Where a tenant receives events: a URL, the types it wants, the version it pins."""

    __tablename__ = "bastion_webhook_endpoints"

    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    description: Mapped[str] = mapped_column(String(500), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(Text)  # sealed with the app's SecretBox
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookMessage(UUIDPrimaryKey, TenantScoped, Base):
    """One published event; ``data`` holds its payload per version (``{"1": {...}}``)."""

    __tablename__ = "bastion_webhook_messages"

    type: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class WebhookDelivery(UUIDPrimaryKey, TenantScoped, Base):
    """A message on its way to one endpoint; one per (message, endpoint)."""

    __tablename__ = "bastion_webhook_deliveries"

    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bastion_webhook_messages.id", ondelete="CASCADE")
    )
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bastion_webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("message_id", "endpoint_id"),
        Index("ix_bastion_webhook_deliveries_due", "status", "next_attempt_at"),
    )


class WebhookAttempt(UUIDPrimaryKey, TenantScoped, Base):
    """One POST (or one refused try) of a delivery, kept for the endpoint's owner."""

    __tablename__ = "bastion_webhook_attempts"

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bastion_webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    message_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[float] = mapped_column(Float)
    succeeded: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    response: Mapped[str | None] = mapped_column(Text)
