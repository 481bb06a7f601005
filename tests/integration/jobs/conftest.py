"""A job store per backend (memory, SQLite, PostgreSQL, Redis), and more of the same kind."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest

from bastion import Database, ManualClock
from bastion.core.redis import open_redis
from bastion.jobs import JobStore, MemoryJobStore, RedisJobStore, SqlJobStore
from bastion.lifecycle import migrations

StoreFactory = Callable[[], Awaitable[JobStore]]
BACKENDS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> tuple[str, str]:
    """The backend's kind and URL, resolved outside the event loop (its fixtures need that)."""
    kind = request.param
    if kind == "memory":
        return kind, ""
    fixture = "redis_url" if kind == "redis" else f"{kind}_url"
    return kind, str(request.getfixturevalue(fixture))


@pytest.fixture
async def new_store(backend: tuple[str, str], redis_prefix: str) -> AsyncIterator[StoreFactory]:
    """``await new_store()``: another store over the same backend (as another process has)."""
    made: list[JobStore] = []
    closers: list[Callable[[], Awaitable[None]]] = []
    kind, url = backend
    if kind == "memory":
        shared = MemoryJobStore()

        async def make() -> JobStore:
            return shared

    elif kind in ("sqlite", "postgres"):
        first = Database(url)
        await migrations.upgrade(first, ())
        await first.dispose()

        async def make() -> JobStore:
            db = Database(url)
            closers.append(db.dispose)
            return SqlJobStore(db)

    else:

        async def make() -> JobStore:
            client = open_redis(url)
            closers.append(client.aclose)
            return RedisJobStore(client, prefix=redis_prefix)

    async def tracked() -> JobStore:
        store = await make()
        made.append(store)
        return store

    yield tracked
    for store in made:
        await store.close()
    if kind == "redis":
        client = open_redis(url)
        keys = [k async for k in client.scan_iter(match=f"{redis_prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
    for close in closers:
        await close()


@pytest.fixture
async def store(new_store: StoreFactory) -> JobStore:
    return await new_store()
