"""Invitations: an emailed, single-use link that makes its recipient a member.

Only the token's SHA-256 is stored. Resending swaps in a new token (the old
link dies) and a new expiry. Accepting spends the invitation with one
conditional ``UPDATE``, so a link works once even when clicked twice at once.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.auth import Principal, User
from bastion.core.db.upsert import insert_for
from bastion.core.mail import send_email
from bastion.orgs.context import OrgsContext, known_role
from bastion.orgs.deps import OrgAccess
from bastion.orgs.errors import (
    InvitationEmailMismatch,
    InvitationExpired,
    InvitationNotFound,
)
from bastion.orgs.models import Invitation, Membership, Organization
from bastion.orgs.roles import OWNER
from bastion.security import hash_token, new_token
from bastion.security.audit import AuditRecord
from bastion.security.errors import Forbidden


class Invitations:
    def __init__(self, ctx: OrgsContext) -> None:
        self.ctx = ctx

    async def invite(
        self, session: AsyncSession, access: OrgAccess, email: str, role: str
    ) -> Invitation:
        """Invite ``email`` (normalised) as ``role`` and email the link."""
        known_role(role)
        if role == OWNER and access.role != OWNER:
            raise Forbidden("Only an owner can invite an owner.", role=OWNER)
        token = new_token()
        now = self.ctx.clock.now()
        invitation = Invitation(
            org_id=access.org_id,
            email=email,
            role=role,
            token_hash=hash_token(token),
            invited_by=access.principal.id,
            created_at=now,
            expires_at=now + timedelta(seconds=self.ctx.settings.invitation_ttl_seconds),
        )
        session.add(invitation)
        await session.flush()
        await self._audit(session, invitation, "org.invitation_created")
        await self._send(session, invitation, token)
        return invitation

    async def pending(self, session: AsyncSession, org_id: uuid.UUID) -> list[Invitation]:
        """Invitations neither accepted nor revoked (expired ones included), oldest first."""
        rows = await session.scalars(
            select(Invitation)
            .where(
                Invitation.org_id == org_id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
            .order_by(Invitation.id)
        )
        return list(rows.all())

    async def resend(
        self, session: AsyncSession, org_id: uuid.UUID, invitation_id: uuid.UUID
    ) -> Invitation:
        """A new token and expiry for a pending invitation; the old link stops working."""
        token = new_token()
        now = self.ctx.clock.now()
        invitation: Invitation | None = await session.scalar(
            update(Invitation)
            .where(_pending(org_id, invitation_id))
            .values(
                token_hash=hash_token(token),
                expires_at=now + timedelta(seconds=self.ctx.settings.invitation_ttl_seconds),
            )
            .returning(Invitation)
            .execution_options(populate_existing=True)
        )
        if invitation is None:
            raise InvitationNotFound("No pending invitation has this id.")
        await self._audit(session, invitation, "org.invitation_resent")
        await self._send(session, invitation, token)
        return invitation

    async def revoke(
        self, session: AsyncSession, org_id: uuid.UUID, invitation_id: uuid.UUID
    ) -> None:
        invitation: Invitation | None = await session.scalar(
            update(Invitation)
            .where(_pending(org_id, invitation_id))
            .values(revoked_at=self.ctx.clock.now())
            .returning(Invitation)
            .execution_options(populate_existing=True)
        )
        if invitation is None:
            raise InvitationNotFound("No pending invitation has this id.")
        await self._audit(session, invitation, "org.invitation_revoked")

    async def accept(self, session: AsyncSession, principal: Principal, token: str) -> Invitation:
        """Make the signed-in user a member with the invitation's role. The user's
        email must be the invited one (compared case-insensitively)."""
        digest = hash_token(token)
        found = await session.scalar(select(Invitation).where(Invitation.token_hash == digest))
        if found is None or found.accepted_at is not None or found.revoked_at is not None:
            raise InvitationNotFound("This invitation link is unknown, used or revoked.")
        now = self.ctx.clock.now()
        if found.expires_at <= now:
            raise InvitationExpired("This invitation has expired; ask for a new one.")
        email = await session.scalar(select(User.email).where(User.id == principal.id))
        if email is None or email.casefold() != found.email.casefold():
            raise InvitationEmailMismatch(
                "This invitation was sent to another email address; sign in with that one."
            )
        spent = await session.scalar(
            update(Invitation)
            .where(_pending(found.org_id, found.id), Invitation.token_hash == digest)
            .values(accepted_at=now)
            .returning(Invitation.id)
        )
        if spent is None:
            raise InvitationNotFound("This invitation link is unknown, used or revoked.")
        join = insert_for(session.get_bind().dialect.name)(Membership).values(
            org_id=found.org_id, user_id=principal.id, role=found.role, created_at=now
        )
        await session.execute(join.on_conflict_do_nothing())
        await self._audit(session, found, "org.invitation_accepted")
        return found

    async def _send(self, session: AsyncSession, invitation: Invitation, token: str) -> None:
        org_name = await session.scalar(
            select(Organization.name).where(Organization.id == invitation.org_id)
        )
        link = self.ctx.settings.accept_url.replace("{token}", token)
        await send_email(
            self.ctx.mailer,
            invitation.email,
            "orgs.invitation",
            f"You are invited to {org_name} on {self.ctx.app_name}",
            f"You are invited to join {org_name} as {invitation.role}. Accept the "
            f"invitation: {link}\nThe link works once, until "
            f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC.",
            token=token,
            org_id=str(invitation.org_id),
            invitation_id=str(invitation.id),
        )

    async def _audit(self, session: AsyncSession, invitation: Invitation, action: str) -> None:
        record = AuditRecord(
            action,
            org_id=invitation.org_id,
            target=f"invitation:{invitation.id}",
            data={"email": invitation.email, "role": invitation.role},
        )
        await self.ctx.audit.append(session, record)


def _pending(org_id: uuid.UUID, invitation_id: uuid.UUID) -> ColumnElement[bool]:
    return (
        (Invitation.id == invitation_id)
        & (Invitation.org_id == org_id)
        & Invitation.accepted_at.is_(None)
        & Invitation.revoked_at.is_(None)
    )
