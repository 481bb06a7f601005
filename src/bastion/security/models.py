"""Tables of the security feature."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bastion.core.db import Base, UTCDateTime


class SigningKey(Base):
    """A JWT signing key. The private material is sealed with the app's
    :class:`~bastion.security.crypto.SecretBox`; a retired key neither signs nor verifies."""

    __tablename__ = "bastion_signing_keys"
    __table_args__ = (CheckConstraint("alg IN ('EdDSA', 'HS256')", name="alg"),)

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    private_material: Mapped[str] = mapped_column(Text)
    # The public JWK as JSON; none for HS256, whose key is secret.
    public_jwk: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class StoredSecret(Base):
    """One version of a named secret (a webhook signing secret, an API credential),
    sealed with the app's :class:`~bastion.security.crypto.SecretBox`."""

    __tablename__ = "bastion_secrets"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
