"""bastion: JWT signing keys

Revision ID: bastion_0003
Revises: bastion_0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bastion.core.db.types

revision: str = "bastion_0003"
down_revision: str | Sequence[str] | None = "bastion_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bastion_signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("private_material", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=True),
        sa.Column("created_at", bastion.core.db.types.UTCDateTime(), nullable=False),
        sa.Column("retired_at", bastion.core.db.types.UTCDateTime(), nullable=True),
        sa.CheckConstraint("alg IN ('EdDSA', 'HS256')", name=op.f("ck_bastion_signing_keys_alg")),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_bastion_signing_keys")),
    )


def downgrade() -> None:
    op.drop_table("bastion_signing_keys")
