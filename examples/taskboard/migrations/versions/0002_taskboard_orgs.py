"""taskboard: projects belong to an organization and remember their creator

Revision ID: taskboard_0002
Revises: taskboard_0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "taskboard_0002"
down_revision: str | Sequence[str] | None = "taskboard_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "bastion_0007"


def upgrade() -> None:
    with op.batch_alter_table("taskboard_projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("org_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("created_by", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_taskboard_projects_org_id"), ["org_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_taskboard_projects_org_id_bastion_orgs"),
            "bastion_orgs",
            ["org_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("taskboard_projects", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_taskboard_projects_org_id_bastion_orgs"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_taskboard_projects_org_id"))
        batch_op.drop_column("created_by")
        batch_op.drop_column("org_id")
