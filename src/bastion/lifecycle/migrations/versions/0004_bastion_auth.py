"""bastion: accounts, sessions, refresh tokens, API keys, MFA and lockouts

Revision ID: bastion_0004
Revises: bastion_0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bastion.core.db.types

revision: str = "bastion_0004"
down_revision: str | Sequence[str] | None = "bastion_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bastion_lockouts",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column(
            "window_started_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("locked_until", bastion.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_bastion_lockouts")),
    )
    op.create_table(
        "bastion_users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column(
            "email_verified_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bastion_users")),
        sa.UniqueConstraint("email", name=op.f("uq_bastion_users_email")),
    )
    op.create_table(
        "bastion_api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lookup", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["bastion_users.id"],
            name=op.f("fk_bastion_api_keys_user_id_bastion_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bastion_api_keys")),
        sa.UniqueConstraint("lookup", name=op.f("uq_bastion_api_keys_lookup")),
    )
    op.create_index(
        op.f("ix_bastion_api_keys_user_id"), "bastion_api_keys", ["user_id"], unique=False
    )
    op.create_table(
        "bastion_auth_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("device_name", sa.String(length=200), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("auth_methods", sa.JSON(), nullable=False),
        sa.Column("active_org_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["bastion_users.id"],
            name=op.f("fk_bastion_auth_sessions_user_id_bastion_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bastion_auth_sessions")),
    )
    op.create_index(
        op.f("ix_bastion_auth_sessions_user_id"), "bastion_auth_sessions", ["user_id"], unique=False
    )
    op.create_table(
        "bastion_auth_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["bastion_users.id"],
            name=op.f("fk_bastion_auth_tokens_user_id_bastion_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bastion_auth_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_bastion_auth_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_bastion_auth_tokens_user_id"), "bastion_auth_tokens", ["user_id"], unique=False
    )
    op.create_table(
        "bastion_mfa_recovery_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["bastion_users.id"],
            name=op.f("fk_bastion_mfa_recovery_codes_user_id_bastion_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bastion_mfa_recovery_codes")),
    )
    op.create_index(
        op.f("ix_bastion_mfa_recovery_codes_user_id"),
        "bastion_mfa_recovery_codes",
        ["user_id"],
        unique=False,
    )
    op.create_table(
        "bastion_mfa_totp",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("secret", sa.String(length=500), nullable=False),
        sa.Column("enabled_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_step", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["bastion_users.id"],
            name=op.f("fk_bastion_mfa_totp_user_id_bastion_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_bastion_mfa_totp")),
    )
    op.create_table(
        "bastion_refresh_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("spent_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["bastion_auth_sessions.id"],
            name=op.f("fk_bastion_refresh_tokens_session_id_bastion_auth_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bastion_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_bastion_refresh_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_bastion_refresh_tokens_session_id"),
        "bastion_refresh_tokens",
        ["session_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_bastion_refresh_tokens_session_id"), table_name="bastion_refresh_tokens")
    op.drop_table("bastion_refresh_tokens")
    op.drop_table("bastion_mfa_totp")
    op.drop_index(
        op.f("ix_bastion_mfa_recovery_codes_user_id"), table_name="bastion_mfa_recovery_codes"
    )
    op.drop_table("bastion_mfa_recovery_codes")
    op.drop_index(op.f("ix_bastion_auth_tokens_user_id"), table_name="bastion_auth_tokens")
    op.drop_table("bastion_auth_tokens")
    op.drop_index(op.f("ix_bastion_auth_sessions_user_id"), table_name="bastion_auth_sessions")
    op.drop_table("bastion_auth_sessions")
    op.drop_index(op.f("ix_bastion_api_keys_user_id"), table_name="bastion_api_keys")
    op.drop_table("bastion_api_keys")
    op.drop_table("bastion_users")
    op.drop_table("bastion_lockouts")
