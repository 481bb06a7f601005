"""bastion: OAuth/OpenID Connect identities linked to users

Revision ID: bastion_0009
Revises: bastion_0008
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bastion.core.db.types

revision: str = "bastion_0009"
down_revision: str | Sequence[str] | None = "bastion_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bastion_oauth_identities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["bastion_users.id"],
            name=op.f("fk_bastion_oauth_identities_user_id_bastion_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bastion_oauth_identities")),
        sa.UniqueConstraint(
            "provider", "subject", name=op.f("uq_bastion_oauth_identities_provider_subject")
        ),
    )
    op.create_index(
        op.f("ix_bastion_oauth_identities_user_id"),
        "bastion_oauth_identities",
        ["user_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_bastion_oauth_identities_user_id"), table_name="bastion_oauth_identities"
    )
    op.drop_table("bastion_oauth_identities")
