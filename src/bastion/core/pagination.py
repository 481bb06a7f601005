"""Cursor (keyset) pagination over a unique, ordered key such as a UUIDv7 id.

The cursor is opaque to clients: the base64url form of the last key seen. Keyset
pagination stays fast on deep pages and never skips or repeats rows when others
are inserted meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bastion.core.errors import InvalidCursor

T = TypeVar("T")
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    """One page of results and the cursor of the next one (``None`` on the last)."""

    items: list[T]
    next_cursor: str | None


class PageParams(BaseModel):
    """``?cursor=&limit=`` as a dependency: ``params: Annotated[PageParams, Query()]``."""

    cursor: str | None = None
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50


def encode_cursor(key: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(key.bytes).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> uuid.UUID:
    """The key in ``cursor``; :class:`InvalidCursor` (400) when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("The cursor is malformed; pass back a next_cursor unchanged.") from exc


async def paginate(
    session: AsyncSession,
    query: Select[Any],
    key: InstrumentedAttribute[uuid.UUID],
    *,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Any], str | None]:
    """Run ``query`` ordered by ``key``, after ``cursor``; return rows and the next cursor.

    >>> # rows, next_cursor = await paginate(session, select(Task), Task.id,
    >>> #                                    cursor=params.cursor, limit=params.limit)
    """
    if cursor is not None:
        query = query.where(key > decode_cursor(cursor))
    rows = (await session.scalars(query.order_by(key).limit(limit + 1))).all()
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(getattr(rows[-1], key.key))
