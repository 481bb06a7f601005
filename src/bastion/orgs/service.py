"""Organizations and their members.

Changes to an organization's members first lock the organization's row
(``SELECT ... FOR UPDATE``; SQLite has one writer anyway), then apply one
conditional statement: two owners demoting each other at the same time cannot
leave the organization without an owner.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.auth import Principal, User
from bastion.orgs.context import OrgsContext, known_role
from bastion.orgs.deps import OrgAccess
from bastion.orgs.errors import LastOwner, MemberNotFound, OrgNotFound
from bastion.orgs.models import Membership, Organization, Team, TeamMember
from bastion.orgs.roles import OWNER
from bastion.security.audit import AuditRecord
from bastion.security.errors import Forbidden


class Orgs:
    """Create, read and rename organizations; list, re-role and remove members."""

    def __init__(self, ctx: OrgsContext) -> None:
        self.ctx = ctx

    async def create(self, session: AsyncSession, principal: Principal, name: str) -> Organization:
        """A new organization whose creator is its owner."""
        org = Organization(name=name)
        session.add(org)
        await session.flush()
        session.add(Membership(org_id=org.id, user_id=principal.id, role=OWNER))
        await self._audit(session, org.id, "org.created", f"org:{org.id}", name=name)
        return org

    async def mine(self, session: AsyncSession, user_id: uuid.UUID) -> list[Any]:
        """``(organization, role)`` rows of the user's organizations, oldest first."""
        rows = await session.execute(
            select(Organization, Membership.role)
            .join(Membership, Membership.org_id == Organization.id)
            .where(Membership.user_id == user_id)
            .order_by(Organization.id)
        )
        return list(rows.all())

    async def get(self, session: AsyncSession, org_id: uuid.UUID) -> Organization:
        org = await session.get(Organization, org_id)
        if org is None:
            raise OrgNotFound("No such organization.")
        return org

    async def rename(self, session: AsyncSession, org_id: uuid.UUID, name: str) -> Organization:
        org = await self.get(session, org_id)
        previous, org.name = org.name, name
        await session.flush()
        await self._audit(session, org_id, "org.updated", f"org:{org_id}", name=name, was=previous)
        return org

    async def members(self, session: AsyncSession, org_id: uuid.UUID) -> list[Any]:
        """``(membership, email)`` rows, oldest member first."""
        rows = await session.execute(
            select(Membership, User.email)
            .join(User, User.id == Membership.user_id)
            .where(Membership.org_id == org_id)
            .order_by(Membership.created_at, Membership.user_id)
        )
        return list(rows.all())

    async def change_role(
        self, session: AsyncSession, access: OrgAccess, user_id: uuid.UUID, role: str
    ) -> str:
        """Give ``user_id`` the ``role``; the role they had."""
        known_role(role)
        current = await self._locked_role(session, access.org_id, user_id)
        _owners_only(access, current, role)
        changed = await session.scalar(
            update(Membership)
            .where(_member(access.org_id, user_id), _not_last_owner(access.org_id, role))
            .values(role=role)
            .returning(Membership.user_id)
        )
        if changed is None:
            raise LastOwner("Make another member an owner first.")
        await self._audit(
            session, access.org_id, "org.role_changed", f"user:{user_id}", role=role, was=current
        )
        return current

    async def remove(self, session: AsyncSession, access: OrgAccess, user_id: uuid.UUID) -> None:
        """Remove ``user_id`` from the organization and its teams."""
        current = await self._locked_role(session, access.org_id, user_id)
        if user_id != access.principal.id:  # anyone may leave; removing others needs owners
            _owners_only(access, current, current)
        removed = await session.scalar(
            delete(Membership)
            .where(_member(access.org_id, user_id), _not_last_owner(access.org_id, None))
            .returning(Membership.user_id)
        )
        if removed is None:
            raise LastOwner("The last owner cannot leave; make another member an owner first.")
        teams = select(Team.id).where(Team.org_id == access.org_id)
        await session.execute(
            delete(TeamMember).where(TeamMember.user_id == user_id, TeamMember.team_id.in_(teams))
        )
        await self._audit(
            session, access.org_id, "org.member_removed", f"user:{user_id}", was=current
        )

    async def _locked_role(
        self, session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID
    ) -> str:
        await session.execute(
            select(Organization.id).where(Organization.id == org_id).with_for_update()
        )
        role = await session.scalar(select(Membership.role).where(_member(org_id, user_id)))
        if role is None:
            raise MemberNotFound(f"User {user_id} is not a member of this organization.")
        return role

    async def _audit(
        self, session: AsyncSession, org_id: uuid.UUID, action: str, target: str, **data: str
    ) -> None:
        record = AuditRecord(action, org_id=org_id, target=target, data=data)
        await self.ctx.audit.append(session, record)


def _member(org_id: uuid.UUID, user_id: uuid.UUID) -> Any:
    return (Membership.org_id == org_id) & (Membership.user_id == user_id)


def _not_last_owner(org_id: uuid.UUID, new_role: str | None) -> Any:
    """The row stays or becomes an owner, is not an owner, or is not the last one."""
    owners = (
        select(func.count())
        .select_from(Membership)
        .where(Membership.org_id == org_id, Membership.role == OWNER)
        .scalar_subquery()
    )
    if new_role == OWNER:
        return true()
    return or_(Membership.role != OWNER, owners > 1)


def _owners_only(access: OrgAccess, current: str, new: str) -> None:
    """Only an owner makes, unmakes or removes an owner."""
    if OWNER in (current, new) and access.role != OWNER:
        raise Forbidden("Only an owner can make, change or remove an owner.", role=OWNER)
