"""bastion: organizations, members, teams, invitations; the audit log and its chains;
sealed named secrets

Revision ID: bastion_0007
Revises: bastion_0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bastion.core.db.types

revision: str = "bastion_0007"
down_revision: str | Sequence[str] | None = "bastion_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# On PostgreSQL the audit log is append-only for everyone but a superuser who
# drops the trigger (which ``bastion audit verify`` would then catch anyway).
REFUSE_CHANGES = (
    """
    CREATE FUNCTION bastion_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'bastion_audit_events is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    """
    CREATE TRIGGER bastion_audit_events_append_only
        BEFORE UPDATE OR DELETE ON bastion_audit_events
        FOR EACH ROW EXECUTE FUNCTION bastion_audit_append_only()
    """,
    """
    CREATE TRIGGER bastion_audit_events_no_truncate
        BEFORE TRUNCATE ON bastion_audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION bastion_audit_append_only()
    """,
)


def upgrade() -> None:
    op.create_table(
        "bastion_secrets",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", "version", name=op.f("pk_bastion_secrets")),
    )
    op.create_table(
        "bastion_audit_chains",
        sa.Column("chain", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_bastion_audit_chains")),
    )
    op.create_table(
        "bastion_audit_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("chain", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("occurred_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bastion_audit_events")),
        sa.UniqueConstraint(
            "chain", "prev_hash", name=op.f("uq_bastion_audit_events_chain_prev_hash")
        ),
        sa.UniqueConstraint("chain", "seq", name=op.f("uq_bastion_audit_events_chain_seq")),
    )
    with op.batch_alter_table("bastion_audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_bastion_audit_events_org_id_id", ["org_id", "id"], unique=False)

    op.create_table(
        "bastion_orgs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bastion_orgs")),
    )
    op.create_table(
        "bastion_org_invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["bastion_orgs.id"],
            name=op.f("fk_bastion_org_invitations_org_id_bastion_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bastion_org_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_bastion_org_invitations_token_hash")),
    )
    with op.batch_alter_table("bastion_org_invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bastion_org_invitations_org_id"), ["org_id"], unique=False
        )

    op.create_table(
        "bastion_org_members",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("created_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["bastion_orgs.id"],
            name=op.f("fk_bastion_org_members_org_id_bastion_orgs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["bastion_users.id"],
            name=op.f("fk_bastion_org_members_user_id_bastion_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "user_id", name=op.f("pk_bastion_org_members")),
    )
    with op.batch_alter_table("bastion_org_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bastion_org_members_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "bastion_org_teams",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["bastion_orgs.id"],
            name=op.f("fk_bastion_org_teams_org_id_bastion_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bastion_org_teams")),
    )
    with op.batch_alter_table("bastion_org_teams", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bastion_org_teams_org_id"), ["org_id"], unique=False)

    op.create_table(
        "bastion_org_team_members",
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["bastion_org_teams.id"],
            name=op.f("fk_bastion_org_team_members_team_id_bastion_org_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["bastion_users.id"],
            name=op.f("fk_bastion_org_team_members_user_id_bastion_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=op.f("pk_bastion_org_team_members")),
    )
    with op.batch_alter_table("bastion_org_team_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bastion_org_team_members_user_id"), ["user_id"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        for statement in REFUSE_CHANGES:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER bastion_audit_events_no_truncate ON bastion_audit_events")
        op.execute("DROP TRIGGER bastion_audit_events_append_only ON bastion_audit_events")
        op.execute("DROP FUNCTION bastion_audit_append_only()")
    with op.batch_alter_table("bastion_org_team_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bastion_org_team_members_user_id"))

    op.drop_table("bastion_org_team_members")
    with op.batch_alter_table("bastion_org_teams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bastion_org_teams_org_id"))

    op.drop_table("bastion_org_teams")
    with op.batch_alter_table("bastion_org_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bastion_org_members_user_id"))

    op.drop_table("bastion_org_members")
    with op.batch_alter_table("bastion_org_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bastion_org_invitations_org_id"))

    op.drop_table("bastion_org_invitations")
    op.drop_table("bastion_orgs")
    with op.batch_alter_table("bastion_audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_bastion_audit_events_org_id_id")

    op.drop_table("bastion_audit_events")
    op.drop_table("bastion_audit_chains")
    op.drop_table("bastion_secrets")
