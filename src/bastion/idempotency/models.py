"""The table of the SQL idempotency store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from bastion.core.db import Base, UTCDateTime


class IdempotencyRecord(Base):
    """One key of one principal: running (with a lease) or done (with the response)."""

    __tablename__ = "bastion_idempotency_keys"

    # "<tenant>/<principal>/<Idempotency-Key>": keys are per principal and tenant.
    key: Mapped[str] = mapped_column(String(600), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    token: Mapped[str | None] = mapped_column(String(32))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[list[list[str]] | None] = mapped_column(JSON)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_bastion_idempotency_keys_expires_at", "expires_at"),)
