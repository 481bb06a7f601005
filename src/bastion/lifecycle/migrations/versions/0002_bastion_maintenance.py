"""bastion: maintenance switch

Revision ID: bastion_0002
Revises: bastion_0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bastion.core.db.types

revision: str = "bastion_0002"
down_revision: str | Sequence[str] | None = "bastion_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bastion_maintenance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("retry_after", sa.Integer(), nullable=False),
        sa.Column("updated_at", bastion.core.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bastion_maintenance")),
    )


def downgrade() -> None:
    op.drop_table("bastion_maintenance")
