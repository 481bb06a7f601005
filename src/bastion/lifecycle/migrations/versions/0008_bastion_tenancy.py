"""bastion: per-tenant quotas

Revision ID: bastion_0008
Revises: bastion_0007
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bastion.core.db.types

revision: str = "bastion_0008"
down_revision: str | Sequence[str] | None = "bastion_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bastion_tenant_quotas",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("limit", sa.Integer(), nullable=False),
        sa.Column("created_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["bastion_orgs.id"],
            name=op.f("fk_bastion_tenant_quotas_tenant_id_bastion_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "name", name=op.f("pk_bastion_tenant_quotas")),
    )


def downgrade() -> None:
    op.drop_table("bastion_tenant_quotas")
