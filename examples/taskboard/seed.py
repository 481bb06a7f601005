"""Demo data for ``bastion db seed``: an organization, its owner, one project.

Sign in as ``demo@taskboard.example`` with ``taskboard demo password`` and send
``X-Tenant-ID: 01900000-0000-7000-8000-00000000000a``.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from bastion.auth import User
from bastion.orgs.models import Membership, Organization
from bastion.security import PasswordHasher
from examples.taskboard.models import Project, Task

DEMO_ORG_ID = uuid.UUID("01900000-0000-7000-8000-00000000000a")
DEMO_USER_ID = uuid.UUID("01900000-0000-7000-8000-00000000000b")
DEMO_PROJECT_ID = uuid.UUID("01900000-0000-7000-8000-000000000001")
DEMO_EMAIL, DEMO_PASSWORD = "demo@taskboard.example", "taskboard demo password"


async def demo_project(session: AsyncSession) -> None:
    if await session.get(Organization, DEMO_ORG_ID) is not None:
        return
    session.add(Organization(id=DEMO_ORG_ID, name="Demo"))
    if await session.get(User, DEMO_USER_ID) is None:
        password_hash = await PasswordHasher().hash(DEMO_PASSWORD)
        session.add(User(id=DEMO_USER_ID, email=DEMO_EMAIL, password_hash=password_hash))
    await session.flush()
    session.add(Membership(org_id=DEMO_ORG_ID, user_id=DEMO_USER_ID, role="owner"))
    project = Project(
        id=DEMO_PROJECT_ID, tenant_id=DEMO_ORG_ID, name="Launch", description="Getting to v1."
    )
    session.add(project)
    for title in ("Write the README", "Set up CI", "Ship it"):
        session.add(Task(project=project, tenant_id=DEMO_ORG_ID, title=title))
