"""The inbox: run a message's handler once per ``(source, message_id)``.

The entry is inserted in the caller's transaction before the handler runs; the
primary key makes a concurrent duplicate wait for that transaction and then
find the entry (PostgreSQL: the insert blocks on the key; SQLite: one writer at
a time). If the transaction rolls back, so does the entry: the next delivery
runs the handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.core.db import utcnow
from bastion.outbox.models import InboxEntry


async def process_once(
    session: AsyncSession,
    source: str,
    message_id: str,
    handler: Callable[[], Awaitable[Any]],
) -> bool:
    """Run ``handler`` unless ``(source, message_id)`` was processed; ``True`` if it ran.

    The handler's writes and the entry commit together, in ``session``'s
    transaction (the caller commits).

    >>> async def on_payment(session: AsyncSession, event_id: str) -> None:
    ...     async def apply() -> None:
    ...         ...  # update balances with ``session``
    ...     await process_once(session, "stripe", event_id, apply)
    """
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(InboxEntry)
        .values(source=source, message_id=message_id, processed_at=utcnow())
        .on_conflict_do_nothing(index_elements=[InboxEntry.source, InboxEntry.message_id])
        .returning(InboxEntry.message_id)
    )
    if (await session.execute(statement)).scalar_one_or_none() is None:
        return False
    await handler()
    return True
