"""taskboard tables

Revision ID: taskboard_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bastion.core.db.types

revision: str = "taskboard_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("app",)
depends_on: str | Sequence[str] | None = "bastion_0001"


def upgrade() -> None:
    op.create_table(
        "taskboard_projects",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taskboard_projects")),
    )
    op.create_table(
        "taskboard_tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("created_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bastion.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["taskboard_projects.id"],
            name=op.f("fk_taskboard_tasks_project_id_taskboard_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taskboard_tasks")),
    )
    with op.batch_alter_table("taskboard_tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_taskboard_tasks_project_id"), ["project_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("taskboard_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_taskboard_tasks_project_id"))

    op.drop_table("taskboard_tasks")
    op.drop_table("taskboard_projects")
