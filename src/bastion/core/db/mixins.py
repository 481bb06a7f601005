"""Column mixins for mapped tables.

>>> from bastion.core.db import Base
>>> class Note(UUIDPrimaryKey, Timestamps, Base):
...     __tablename__ = "doc_note"
>>> sorted(Note.__table__.columns.keys())
['created_at', 'id', 'updated_at']
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, Uuid
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from bastion.core.db.types import UTCDateTime
from bastion.core.ids import uuid7


def utcnow() -> datetime:
    return datetime.now(UTC)


class UUIDPrimaryKey:
    """A UUIDv7 primary key: unique without coordination and ordered by creation."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7, sort_order=-10)


class Timestamps:
    """``created_at`` and ``updated_at`` in UTC, set by the ORM."""

    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False, sort_order=100
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False, sort_order=101
    )


class Versioned:
    """Optimistic locking: a ``version`` that every ORM update checks and bumps.

    SQLAlchemy adds ``WHERE version = <the version read>`` to each UPDATE and
    DELETE; when another writer got there first no row matches and the flush
    raises ``StaleDataError`` (a request answers 409 ``conflict.stale_version``).
    """

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, sort_order=99)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]
