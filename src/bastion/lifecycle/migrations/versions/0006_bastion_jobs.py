"""bastion: background jobs and cron ticks

Revision ID: bastion_0006
Revises: bastion_0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "bastion_0006"
down_revision: str | Sequence[str] | None = "bastion_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUED = sa.text("state = 'queued'")
RUNNING = sa.text("state = 'running'")
LIVE = sa.text("state IN ('queued', 'running')")


def upgrade() -> None:
    op.create_table(
        "bastion_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("task", sa.String(length=200), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_at", sa.Double(), nullable=False),
        sa.Column("enqueued_at", sa.Double(), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=True),
        sa.Column("finished_at", sa.Double(), nullable=True),
        sa.Column("lease_until", sa.Double(), nullable=True),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bastion_jobs")),
    )
    op.create_index(
        "ix_bastion_jobs_ready",
        "bastion_jobs",
        ["queue", "rank", "run_at", "id"],
        postgresql_where=QUEUED,
        sqlite_where=QUEUED,
    )
    op.create_index(
        "ix_bastion_jobs_lease",
        "bastion_jobs",
        ["lease_until"],
        postgresql_where=RUNNING,
        sqlite_where=RUNNING,
    )
    op.create_index("ix_bastion_jobs_state_finished", "bastion_jobs", ["state", "finished_at"])
    op.create_index(
        "uq_bastion_jobs_dedupe",
        "bastion_jobs",
        ["dedupe_key"],
        unique=True,
        postgresql_where=LIVE,
        sqlite_where=LIVE,
    )
    op.create_table(
        "bastion_job_ticks",
        sa.Column("schedule", sa.String(length=200), nullable=False),
        sa.Column("tick", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("schedule", name=op.f("pk_bastion_job_ticks")),
    )


def downgrade() -> None:
    op.drop_table("bastion_job_ticks")
    op.drop_index("uq_bastion_jobs_dedupe", table_name="bastion_jobs")
    op.drop_index("ix_bastion_jobs_state_finished", table_name="bastion_jobs")
    op.drop_index("ix_bastion_jobs_lease", table_name="bastion_jobs")
    op.drop_index("ix_bastion_jobs_ready", table_name="bastion_jobs")
    op.drop_table("bastion_jobs")
