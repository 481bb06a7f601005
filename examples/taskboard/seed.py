"""Demo data for ``bastion db seed``: one project with a few tasks."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from examples.taskboard.models import Project, Task

DEMO_PROJECT_ID = uuid.UUID("01900000-0000-7000-8000-000000000001")


async def demo_project(session: AsyncSession) -> None:
    if await session.get(Project, DEMO_PROJECT_ID) is not None:
        return
    project = Project(id=DEMO_PROJECT_ID, name="Launch", description="Getting to v1.")
    session.add(project)
    for title in ("Write the README", "Set up CI", "Ship it"):
        session.add(Task(project=project, title=title))
