"""bastion: webhook endpoints, messages, deliveries and attempts

Revision ID: bastion_0010
Revises: bastion_0009
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bastion.core.db.types

revision: str = "bastion_0010"
down_revision: str | Sequence[str] | None = "bastion_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bastion_webhook_endpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=200), nullable=True),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column(
            "previous_secret_until", bastion.core.db.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("failing_since", bastion.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["bastion_orgs.id"],
            name=op.f("fk_bastion_webhook_endpoints_tenant_id_bastion_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bastion_webhook_endpoints")),
    )
    op.create_index(
        op.f("ix_bastion_webhook_endpoints_tenant_id"),
        "bastion_webhook_endpoints",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "bastion_webhook_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["bastion_orgs.id"],
            name=op.f("fk_bastion_webhook_messages_tenant_id_bastion_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bastion_webhook_messages")),
    )
    op.create_index(
        op.f("ix_bastion_webhook_messages_created_at"),
        "bastion_webhook_messages",
        ["created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_bastion_webhook_messages_tenant_id"),
        "bastion_webhook_messages",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "bastion_webhook_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("locked_until", bastion.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["bastion_webhook_endpoints.id"],
            name=op.f("fk_bastion_webhook_deliveries_endpoint_id_bastion_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["bastion_webhook_messages.id"],
            name=op.f("fk_bastion_webhook_deliveries_message_id_bastion_webhook_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["bastion_orgs.id"],
            name=op.f("fk_bastion_webhook_deliveries_tenant_id_bastion_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bastion_webhook_deliveries")),
        sa.UniqueConstraint(
            "message_id",
            "endpoint_id",
            name=op.f("uq_bastion_webhook_deliveries_message_id_endpoint_id"),
        ),
    )
    op.create_index(
        "ix_bastion_webhook_deliveries_due",
        "bastion_webhook_deliveries",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_bastion_webhook_deliveries_endpoint_id"),
        "bastion_webhook_deliveries",
        ["endpoint_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_bastion_webhook_deliveries_tenant_id"),
        "bastion_webhook_deliveries",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "bastion_webhook_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("attempted_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["bastion_webhook_deliveries.id"],
            name=op.f("fk_bastion_webhook_attempts_delivery_id_bastion_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["bastion_orgs.id"],
            name=op.f("fk_bastion_webhook_attempts_tenant_id_bastion_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bastion_webhook_attempts")),
    )
    op.create_index(
        op.f("ix_bastion_webhook_attempts_delivery_id"),
        "bastion_webhook_attempts",
        ["delivery_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_bastion_webhook_attempts_endpoint_id"),
        "bastion_webhook_attempts",
        ["endpoint_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_bastion_webhook_attempts_tenant_id"),
        "bastion_webhook_attempts",
        ["tenant_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_bastion_webhook_attempts_tenant_id"), table_name="bastion_webhook_attempts"
    )
    op.drop_index(
        op.f("ix_bastion_webhook_attempts_endpoint_id"), table_name="bastion_webhook_attempts"
    )
    op.drop_index(
        op.f("ix_bastion_webhook_attempts_delivery_id"), table_name="bastion_webhook_attempts"
    )
    op.drop_table("bastion_webhook_attempts")
    op.drop_index(
        op.f("ix_bastion_webhook_deliveries_tenant_id"), table_name="bastion_webhook_deliveries"
    )
    op.drop_index(
        op.f("ix_bastion_webhook_deliveries_endpoint_id"), table_name="bastion_webhook_deliveries"
    )
    op.drop_index("ix_bastion_webhook_deliveries_due", table_name="bastion_webhook_deliveries")
    op.drop_table("bastion_webhook_deliveries")
    op.drop_index(
        op.f("ix_bastion_webhook_messages_tenant_id"), table_name="bastion_webhook_messages"
    )
    op.drop_index(
        op.f("ix_bastion_webhook_messages_created_at"), table_name="bastion_webhook_messages"
    )
    op.drop_table("bastion_webhook_messages")
    op.drop_index(
        op.f("ix_bastion_webhook_endpoints_tenant_id"), table_name="bastion_webhook_endpoints"
    )
    op.drop_table("bastion_webhook_endpoints")
