"""Tables of authentication: users, one-time links, sessions, refresh tokens,
API keys, TOTP and recovery codes, and lockout counters."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bastion.core.db import Base, Timestamps, UTCDateTime, UUIDPrimaryKey, utcnow


def _user_fk() -> ForeignKey:
    return ForeignKey("bastion_users.id", ondelete="CASCADE")


class User(UUIDPrimaryKey, Timestamps, Base):
    """An account. ``email`` is stored normalised (see ``normalize_email``)."""

    __tablename__ = "bastion_users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class OneTimeToken(UUIDPrimaryKey, Base):
    """A single-use link token (email verification, password reset), stored hashed."""

    __tablename__ = "bastion_auth_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(_user_fk(), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class AuthSession(UUIDPrimaryKey, Base):
    """A signed-in device: made by each login, ended by logout or revocation."""

    __tablename__ = "bastion_auth_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(_user_fk(), index=True)
    device_name: Mapped[str] = mapped_column(String(200), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    auth_methods: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The organization its tokens act in (``org`` claim), chosen by switch-org.
    active_org_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoke_reason: Mapped[str] = mapped_column(String(64), default="")


class RefreshToken(UUIDPrimaryKey, Base):
    """One refresh token of a session; ``spent_at`` is set when it is rotated."""

    __tablename__ = "bastion_refresh_tokens"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bastion_auth_sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    spent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ApiKey(UUIDPrimaryKey, Base):
    """A long-lived key of a user, narrowed by scopes; only its hash is kept."""

    __tablename__ = "bastion_api_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(_user_fk(), index=True)
    name: Mapped[str] = mapped_column(String(200))
    lookup: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class TotpFactor(Base):
    """A user's TOTP secret (encrypted); enabled once a first code confirmed it."""

    __tablename__ = "bastion_mfa_totp"

    user_id: Mapped[uuid.UUID] = mapped_column(_user_fk(), primary_key=True)
    secret: Mapped[str] = mapped_column(String(500))
    enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_used_step: Mapped[int | None] = mapped_column(Integer, default=None)


class RecoveryCode(UUIDPrimaryKey, Base):
    """A one-time MFA recovery code, stored hashed."""

    __tablename__ = "bastion_mfa_recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(_user_fk(), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Lockout(Base):
    """Failed sign-ins of one key (``account:<email>`` or ``ip:<address>``)."""

    __tablename__ = "bastion_lockouts"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    level: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
