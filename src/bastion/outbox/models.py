"""Tables of the transactional outbox and the inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from bastion.core.db import Base, UTCDateTime

# SQLite numbers rows only through an INTEGER PRIMARY KEY.
_Id = BigInteger().with_variant(Integer(), "sqlite")
PENDING, SENT, DEAD = "pending", "sent", "dead"
_PENDING = text("status = 'pending'")
_DEAD = text("status = 'dead'")


class OutboxMessage(Base):
    """A message written in the producer's transaction, delivered later by a relay.

    ``id`` orders messages; among messages with the same ``key`` a relay delivers
    none while an earlier one is pending. A relay holds a claimed message until
    ``locked_until`` (its lease); ``available_at`` delays a retry.
    """

    __tablename__ = "bastion_outbox"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(200))
    key: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[Any] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # Partial indexes: pending (and dead) rows are few, sent ones many. Claims
        # walk the pending ones in id order without reading a single sent row.
        Index("ix_bastion_outbox_pending", "id", postgresql_where=_PENDING, sqlite_where=_PENDING),
        Index(
            "ix_bastion_outbox_pending_key",
            "key",
            "id",
            postgresql_where=_PENDING,
            sqlite_where=_PENDING,
        ),
        Index("ix_bastion_outbox_dead", "id", postgresql_where=_DEAD, sqlite_where=_DEAD),
        Index("ix_bastion_outbox_sent_at", "sent_at"),
    )


class InboxEntry(Base):
    """A message already processed: ``(source, message_id)`` is unique."""

    __tablename__ = "bastion_inbox"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
