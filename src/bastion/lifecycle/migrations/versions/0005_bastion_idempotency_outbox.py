"""bastion: idempotency keys, outbox and inbox

Revision ID: bastion_0005
Revises: bastion_0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bastion.core.db.types

revision: str = "bastion_0005"
down_revision: str | Sequence[str] | None = "bastion_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = sa.text("status = 'pending'")
_DEAD = sa.text("status = 'dead'")


def upgrade() -> None:
    op.create_table(
        "bastion_idempotency_keys",
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=True),
        sa.Column("locked_until", bastion.core.db.types.UTCDateTime(), nullable=True),
        sa.Column("expires_at", bastion.core.db.types.UTCDateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_bastion_idempotency_keys")),
    )
    op.create_index(
        "ix_bastion_idempotency_keys_expires_at", "bastion_idempotency_keys", ["expires_at"]
    )
    op.create_table(
        "bastion_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", bastion.core.db.types.UTCDateTime(), nullable=False),
        sa.Column("available_at", bastion.core.db.types.UTCDateTime(), nullable=False),
        sa.Column("locked_until", bastion.core.db.types.UTCDateTime(), nullable=True),
        sa.Column("locked_by", sa.String(length=32), nullable=True),
        sa.Column("sent_at", bastion.core.db.types.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bastion_outbox")),
    )
    op.create_index(
        "ix_bastion_outbox_pending",
        "bastion_outbox",
        ["id"],
        postgresql_where=_PENDING,
        sqlite_where=_PENDING,
    )
    op.create_index(
        "ix_bastion_outbox_dead",
        "bastion_outbox",
        ["id"],
        postgresql_where=_DEAD,
        sqlite_where=_DEAD,
    )
    op.create_index(
        "ix_bastion_outbox_pending_key",
        "bastion_outbox",
        ["key", "id"],
        postgresql_where=_PENDING,
        sqlite_where=_PENDING,
    )
    op.create_index("ix_bastion_outbox_sent_at", "bastion_outbox", ["sent_at"])
    op.create_table(
        "bastion_inbox",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("processed_at", bastion.core.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", "message_id", name=op.f("pk_bastion_inbox")),
    )
    op.create_index(op.f("ix_bastion_inbox_processed_at"), "bastion_inbox", ["processed_at"])


def downgrade() -> None:
    op.drop_table("bastion_inbox")
    op.drop_table("bastion_outbox")
    op.drop_table("bastion_idempotency_keys")
