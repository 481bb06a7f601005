"""bastion: seed run ledger

Revision ID: bastion_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bastion.core.db.types

revision: str = "bastion_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("bastion",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bastion_seed_runs",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("applied_at", bastion.core.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_bastion_seed_runs")),
    )


def downgrade() -> None:
    op.drop_table("bastion_seed_runs")
