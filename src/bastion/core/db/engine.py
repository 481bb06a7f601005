"""The async engine and session factory for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from bastion.core.settings import CoreSettings


class Database:
    """One engine and session factory per process, opened by the app's lifespan.

    >>> import asyncio
    >>> async def main():
    ...     db = Database("sqlite+aiosqlite:///:memory:")
    ...     async with db.session() as session:
    ...         value = (await session.execute(text("select 1"))).scalar_one()
    ...     await db.dispose()
    ...     return value
    >>> asyncio.run(main())
    1
    """

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        max_overflow: int = 10,
        connect_timeout: float = 10.0,
    ) -> None:
        self.url = make_url(url)
        self.engine = _create_engine(
            self.url.render_as_string(hide_password=False),
            echo=echo,
            pool_size=pool_size,
            max_overflow=max_overflow,
            connect_timeout=connect_timeout,
        )
        # A Session class of this database's own, so that ORM events (tenant
        # filtering, say) apply to its sessions and to no other database's.
        self.session_class: type[Session] = type("DatabaseSession", (Session,), {})
        self.sessionmaker = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=self.session_class
        )
        self._listening: set[tuple[str, Callable[..., Any]]] = set()

    def on_sessions(self, identifier: str, listener: Callable[..., Any]) -> None:
        """Listen for ``identifier`` events of this database's sessions (once per
        listener). Not ``event.contains``: SQLAlchemy keys its registry by ``id()``,
        which a new session class may reuse after another database's was collected."""
        if (identifier, listener) not in self._listening:
            event.listen(self.session_class, identifier, listener)
            self._listening.add((identifier, listener))

    @classmethod
    def from_settings(cls, settings: CoreSettings) -> Database:
        return cls(
            settings.database_url,
            echo=settings.database_echo,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            connect_timeout=settings.database_connect_timeout,
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session that commits when the block ends cleanly and rolls back otherwise."""
        async with self.sessionmaker() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    async def ping(self) -> None:
        """Run ``SELECT 1``; raises the driver's error when the database is unreachable."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _create_engine(
    url: str, *, echo: bool, pool_size: int, max_overflow: int, connect_timeout: float
) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(
            url,
            echo=echo,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=True,
            connect_args={"timeout": connect_timeout},
        )
    options: dict[str, Any] = {"echo": echo}
    if parsed.database in (None, "", ":memory:"):
        # One shared connection, or every checkout would see a new empty database.
        options |= {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    engine = create_async_engine(url, **options)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside one writer; busy_timeout waits for the lock
    # instead of failing at once; SQLite leaves foreign keys off unless asked.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
