"""Writing messages: ``add`` puts a message in the caller's transaction.

The message exists exactly when the caller's other writes do: both commit or
neither. On PostgreSQL the commit also sends ``NOTIFY bastion_outbox`` (queued
by the database until the commit), which wakes idle relays at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bastion.core.db import utcnow
from bastion.core.db.notify import notify_on_commit
from bastion.outbox.models import PENDING, OutboxMessage

CHANNEL = "bastion_outbox"


def add(
    session: AsyncSession, topic: str, payload: Any, *, key: str | None = None
) -> OutboxMessage:
    """Queue a message in ``session``'s transaction; it is relayed after the commit.

    ``payload`` must be JSON-serialisable. Messages with the same ``key`` are
    delivered in the order they were added, one at a time.

    >>> from sqlalchemy.ext.asyncio import AsyncSession
    >>> async def create_task(session: AsyncSession, task_id: str) -> None:
    ...     add(session, "task.created", {"id": task_id}, key=task_id)
    """
    now = utcnow()
    message = OutboxMessage(
        topic=topic,
        key=key,
        payload=payload,
        status=PENDING,
        attempts=0,
        created_at=now,
        available_at=now,
    )
    session.add(message)
    notify_on_commit(session, CHANNEL)
    return message
