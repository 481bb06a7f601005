"""Taskboard tables: projects and their tasks, each belonging to one organization."""

from __future__ import annotations

import uuid

from sqlalchemy import Boolean, ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bastion import Base, Timestamps, UUIDPrimaryKey
from bastion.core.db import Versioned
from bastion.tenancy import TenantScoped


class Project(UUIDPrimaryKey, TenantScoped, Timestamps, Versioned, Base):
    __tablename__ = "taskboard_projects"

    # Who made it: members may delete their own projects (see router.py).
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    tasks: Mapped[list[Task]] = relationship(
        back_populates="project", cascade="all, delete-orphan", passive_deletes=True
    )


class Task(UUIDPrimaryKey, TenantScoped, Timestamps, Versioned, Base):
    __tablename__ = "taskboard_tasks"

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("taskboard_projects.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(500))
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    project: Mapped[Project] = relationship(back_populates="tasks")
