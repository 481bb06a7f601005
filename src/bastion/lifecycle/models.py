"""Tables of the data-lifecycle feature."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from bastion.core.db import Base, UTCDateTime, utcnow


class SeedRun(Base):
    """A seeder that has run once against this database."""

    __tablename__ = "bastion_seed_runs"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
