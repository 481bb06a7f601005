"""taskboard: projects and tasks belong to an organization, carry a version (ETags,
optimistic locking), and projects remember their creator

Rows made before this revision move into a new organization, "Taskboard
(before organizations)", so that nothing is lost; its owner is the first user,
if there is one. PostgreSQL also isolates the tables with row-level security.

Revision ID: taskboard_0002
Revises: taskboard_0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from bastion.core.db import UTCDateTime
from bastion.tenancy import disable_tenant_rls, enable_tenant_rls

revision: str = "taskboard_0002"
down_revision: str | Sequence[str] | None = "taskboard_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "bastion_0008"

TABLES = ("taskboard_projects", "taskboard_tasks")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("tenant_id", sa.Uuid(), nullable=True))
            batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("taskboard_projects") as batch:
        batch.add_column(sa.Column("created_by", sa.Uuid(), nullable=True))
    _adopt_existing_rows()
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("tenant_id", existing_type=sa.Uuid(), nullable=False)
            batch.create_foreign_key(
                f"fk_{table}_tenant_id_bastion_orgs",
                "bastion_orgs",
                ["tenant_id"],
                ["id"],
                ondelete="CASCADE",
            )
            batch.create_index(f"ix_{table}_tenant_id", ["tenant_id"])
        enable_tenant_rls(table)


def _adopt_existing_rows() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM taskboard_projects")).scalar_one() == 0:
        return
    org_id, now = uuid.uuid4(), datetime.now(UTC)
    orgs = sa.table(
        "bastion_orgs",
        sa.column("id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("created_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
    )
    op.execute(
        orgs.insert().values(
            id=org_id, name="Taskboard (before organizations)", created_at=now, updated_at=now
        )
    )
    first_user = bind.execute(
        sa.text("SELECT id FROM bastion_users ORDER BY created_at LIMIT 1")
    ).scalar_one_or_none()
    if first_user is not None:
        members = sa.table(
            "bastion_org_members",
            sa.column("org_id", sa.Uuid()),
            sa.column("user_id", sa.Uuid()),
            sa.column("role", sa.String()),
            sa.column("created_at", UTCDateTime()),
        )
        op.execute(
            members.insert().values(
                org_id=org_id, user_id=uuid.UUID(str(first_user)), role="owner", created_at=now
            )
        )
    for table in TABLES:
        op.execute(
            sa.table(table, sa.column("tenant_id", sa.Uuid())).update().values(tenant_id=org_id)
        )


def downgrade() -> None:
    for table in TABLES:
        disable_tenant_rls(table)
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_tenant_id")
            batch.drop_constraint(f"fk_{table}_tenant_id_bastion_orgs", type_="foreignkey")
            batch.drop_column("tenant_id")
            batch.drop_column("version")
    with op.batch_alter_table("taskboard_projects") as batch:
        batch.drop_column("created_by")
