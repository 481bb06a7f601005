"""Tables of the audit log: the events, and the head of each hash chain."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bastion.core.db import Base, UTCDateTime


class AuditEvent(Base):
    """One security-relevant event, append-only (on PostgreSQL a trigger refuses
    ``UPDATE`` and ``DELETE``). ``hash`` covers every other column;
    ``prev_hash`` is the hash of the event before it in its chain."""

    __tablename__ = "bastion_audit_events"
    __table_args__ = (
        # Two events can never follow the same one: a fork is refused by the store.
        UniqueConstraint("chain", "seq"),
        UniqueConstraint("chain", "prev_hash"),
        Index("ix_bastion_audit_events_org_id_id", "org_id", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    chain: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    org_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(200))
    ip: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(200))
    # Canonical JSON (RFC 8785), so that the stored text is what was hashed.
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The last event of each chain. Appends lock this row (an upsert), so that
    concurrent writers take turns; ``verify`` checks the chain ends here, which
    catches events deleted from the end."""

    __tablename__ = "bastion_audit_chains"

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
