"""PostgreSQL ``NOTIFY``/``LISTEN`` wake-ups for background loops.

A writer calls :func:`notify_on_commit` in its transaction: the database sends the
notification with the commit (never for a rollback). A loop that polls wraps its
waiting in :func:`listening`, which sets an :class:`asyncio.Event` on each
notification. Other databases poll alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable

import structlog
from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bastion.core.db.engine import Database

log = structlog.get_logger("bastion.db")
_CHANNELS = "bastion.notify_channels"


def notify_on_commit(session: AsyncSession, channel: str) -> None:
    """Send ``NOTIFY channel`` with ``session``'s commit (PostgreSQL; a no-op elsewhere)."""
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return
    info = session.sync_session.info
    if _CHANNELS not in info:  # (not event.contains: its registry is keyed by id())
        event.listen(session.sync_session, "before_commit", _notify)
        info[_CHANNELS] = set()
    info[_CHANNELS].add(channel)


def _notify(session: Session) -> None:
    # Runs in the committing transaction: PostgreSQL delivers the NOTIFY with the commit.
    channels = session.info.get(_CHANNELS, set())
    for channel in sorted(channels):
        session.execute(text(f"NOTIFY {channel}"))
    channels.clear()


@contextlib.asynccontextmanager
async def listening(db: Database, channel: str, wake: asyncio.Event) -> AsyncIterator[None]:
    """``LISTEN channel`` on PostgreSQL while the block runs, setting ``wake`` on each
    notification; nothing elsewhere, or when the database cannot be reached at start
    (the caller's polling goes on)."""
    if db.dialect != "postgresql":
        yield
        return

    def notified(*_: object) -> None:
        wake.set()

    async with contextlib.AsyncExitStack() as stack:
        try:
            connection = await stack.enter_async_context(db.engine.connect())
            raw = (await connection.get_raw_connection()).driver_connection
            assert raw is not None
            await raw.add_listener(channel, notified)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("db.listen_failed", channel=channel, error=f"{type(exc).__name__}: {exc}")
        else:
            stack.push_async_callback(_quietly, raw.remove_listener(channel, notified))
        yield


async def _quietly(call: Awaitable[object]) -> None:
    with contextlib.suppress(Exception):  # the connection may be gone
        await call
