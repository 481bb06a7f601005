"""Tables of the SQL job store (PostgreSQL and SQLite)."""

from __future__ import annotations

from sqlalchemy import Double, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from bastion.core.db import Base

_LIVE = text("state IN ('queued', 'running')")


class JobRow(Base):
    """One job; times are seconds since the epoch (the queue's clock)."""

    __tablename__ = "bastion_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    task: Mapped[str] = mapped_column(String(200))
    queue: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16))
    payload: Mapped[str] = mapped_column(Text)
    # The priority negated, so that one ascending index serves the claim's order.
    rank: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    run_at: Mapped[float] = mapped_column(Double)
    enqueued_at: Mapped[float] = mapped_column(Double)
    started_at: Mapped[float | None] = mapped_column(Double)
    finished_at: Mapped[float | None] = mapped_column(Double)
    lease_until: Mapped[float | None] = mapped_column(Double)
    worker: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        # The claim: due jobs of a queue, highest priority first, then oldest.
        Index(
            "ix_bastion_jobs_ready",
            "queue",
            "rank",
            "run_at",
            "id",
            postgresql_where=text("state = 'queued'"),
            sqlite_where=text("state = 'queued'"),
        ),
        Index(
            "ix_bastion_jobs_lease",
            "lease_until",
            postgresql_where=text("state = 'running'"),
            sqlite_where=text("state = 'running'"),
        ),
        Index("ix_bastion_jobs_state_finished", "state", "finished_at"),
        # One live job per dedupe key; a finished job frees its key.
        Index(
            "uq_bastion_jobs_dedupe",
            "dedupe_key",
            unique=True,
            postgresql_where=_LIVE,
            sqlite_where=_LIVE,
        ),
    )


class CronTickRow(Base):
    """The last tick of each cron schedule that some scheduler claimed."""

    __tablename__ = "bastion_job_ticks"

    schedule: Mapped[str] = mapped_column(String(200), primary_key=True)
    tick: Mapped[float] = mapped_column(Double)
