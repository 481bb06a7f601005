"""Tables of organizations: the orgs, their members, teams and invitations."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bastion.core.db import Base, Timestamps, UTCDateTime, UUIDPrimaryKey, utcnow


def _org_fk() -> ForeignKey:
    return ForeignKey("bastion_orgs.id", ondelete="CASCADE")


def _user_fk() -> ForeignKey:
    return ForeignKey("bastion_users.id", ondelete="CASCADE")


class Organization(UUIDPrimaryKey, Timestamps, Base):
    """A customer account that users belong to, each with a role."""

    __tablename__ = "bastion_orgs"

    name: Mapped[str] = mapped_column(String(200))


class Membership(Base):
    """A user's role in an organization."""

    __tablename__ = "bastion_org_members"

    org_id: Mapped[uuid.UUID] = mapped_column(_org_fk(), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(_user_fk(), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Team(UUIDPrimaryKey, Base):
    """A named group of an organization's members."""

    __tablename__ = "bastion_org_teams"

    org_id: Mapped[uuid.UUID] = mapped_column(_org_fk(), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamMember(Base):
    __tablename__ = "bastion_org_team_members"

    team_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bastion_org_teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(_user_fk(), primary_key=True, index=True)


class Invitation(UUIDPrimaryKey, Base):
    """An invitation by email; only the token's SHA-256 is stored, and resending
    replaces it (the old link stops working)."""

    __tablename__ = "bastion_org_invitations"

    org_id: Mapped[uuid.UUID] = mapped_column(_org_fk(), index=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
