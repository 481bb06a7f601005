"""Teams: named groups of an organization's members."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.auth import User
from bastion.core.db.upsert import insert_for
from bastion.orgs.context import OrgsContext
from bastion.orgs.errors import MemberNotFound, TeamNotFound
from bastion.orgs.models import Membership, Team, TeamMember
from bastion.security.audit import AuditRecord


class Teams:
    def __init__(self, ctx: OrgsContext) -> None:
        self.ctx = ctx

    async def create(self, session: AsyncSession, org_id: uuid.UUID, name: str) -> Team:
        team = Team(org_id=org_id, name=name, created_at=self.ctx.clock.now())
        session.add(team)
        await session.flush()
        await self._audit(session, team, "org.team_created", name=name)
        return team

    async def all(self, session: AsyncSession, org_id: uuid.UUID) -> list[Team]:
        rows = await session.scalars(select(Team).where(Team.org_id == org_id).order_by(Team.id))
        return list(rows.all())

    async def get(self, session: AsyncSession, org_id: uuid.UUID, team_id: uuid.UUID) -> Team:
        team = await session.get(Team, team_id)
        if team is None or team.org_id != org_id:
            raise TeamNotFound("This organization has no such team.")
        return team

    async def delete(self, session: AsyncSession, org_id: uuid.UUID, team_id: uuid.UUID) -> None:
        team = await self.get(session, org_id, team_id)
        await session.delete(team)
        await self._audit(session, team, "org.team_deleted")

    async def members(self, session: AsyncSession, team: Team) -> list[Any]:
        """``(user_id, email)`` rows of the team."""
        rows = await session.execute(
            select(TeamMember.user_id, User.email)
            .join(User, User.id == TeamMember.user_id)
            .where(TeamMember.team_id == team.id)
            .order_by(User.email)
        )
        return list(rows.all())

    async def add(self, session: AsyncSession, team: Team, user_id: uuid.UUID) -> None:
        """Add a member of the organization (inserted from their membership row, so only
        members can be added); adding one already in the team changes nothing."""
        is_member = (Membership.org_id == team.org_id) & (Membership.user_id == user_id)
        members = select(literal(team.id), Membership.user_id).where(is_member)
        statement = insert_for(session.get_bind().dialect.name)(TeamMember).from_select(
            ["team_id", "user_id"], members
        )
        added = await session.execute(statement.on_conflict_do_nothing())
        if not added.rowcount:  # type: ignore[attr-defined]
            member = await session.scalar(select(Membership.user_id).where(is_member))
            if member is None:
                raise MemberNotFound(f"User {user_id} is not a member of this organization.")
            return  # already in the team
        await self._audit(session, team, "org.team_member_added", user_id=str(user_id))

    async def remove(self, session: AsyncSession, team: Team, user_id: uuid.UUID) -> None:
        removed = await session.execute(
            delete(TeamMember).where(TeamMember.team_id == team.id, TeamMember.user_id == user_id)
        )
        if not removed.rowcount:  # type: ignore[attr-defined]
            raise MemberNotFound(f"User {user_id} is not in this team.")
        await self._audit(session, team, "org.team_member_removed", user_id=str(user_id))

    async def _audit(self, session: AsyncSession, team: Team, action: str, **data: str) -> None:
        record = AuditRecord(action, org_id=team.org_id, target=f"team:{team.id}", data=data)
        await self.ctx.audit.append(session, record)
