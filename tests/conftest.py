"""Shared fixtures: backends (SQLite, PostgreSQL, Redis), apps and clients.

PostgreSQL and Redis tests fail in CI (``CI=true``) when the service is not
reachable, and are skipped with the reason elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from bastion import BastionSettings, bastion_state
from bastion.lifecycle import migrations

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_URL = os.environ.get(
    "BASTION_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_TEST_URL = os.environ.get("BASTION_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TEST_SECRET = "test-secret-" + "x" * 40


def service_unavailable(service: str, error: BaseException) -> None:
    message = f"{service} is not reachable ({type(error).__name__}: {error})"
    if IN_CI:
        pytest.fail(f"{message}; CI needs it running", pytrace=False)
    pytest.skip(message)


def _postgres_admin(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    try:
        _postgres_admin("SELECT 1")
    except Exception as exc:
        service_unavailable("PostgreSQL", exc)
    return True


@pytest.fixture
def postgres_url(postgres_available: bool) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test, dropped afterwards."""
    name = f"bastion_test_{secrets.token_hex(6)}"
    _postgres_admin(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture(scope="session")
def redis_available() -> bool:
    from redis import Redis

    client = Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:
        service_unavailable("Redis", exc)
    finally:
        client.close()
    return True


@pytest.fixture
def redis_url(redis_available: bool) -> str:
    """The test Redis URL; use ``redis_prefix`` for keys, and delete them afterwards."""
    return REDIS_TEST_URL


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix no other test run shares."""
    return f"bastion-test:{secrets.token_hex(6)}:"


def make_settings(database_url: str, **overrides: object) -> BastionSettings:
    """Test settings: no environment, a long secret, the given database."""
    values: dict[str, object] = {
        "env": "test",
        "secret_key": TEST_SECRET,
        "database_url": database_url,
    }
    values.update(overrides)
    return BastionSettings.model_validate(values)


ClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def client_for() -> AsyncIterator[ClientFactory]:
    """``await client_for(app, migrate=True)``: run the lifespan, migrate, give a client."""
    async with AsyncExitStack() as stack:

        async def make(app: FastAPI, *, migrate: bool = True) -> httpx.AsyncClient:
            await stack.enter_async_context(app.router.lifespan_context(app))
            if migrate:
                state = bastion_state(app)
                await migrations.upgrade(state.db, state.migration_dirs)
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            return await stack.enter_async_context(client)

        yield make


# Argon2id parameters for tests that sign in: fast; production's are checked at start-up.
FAST_HASHING = {"security": {"argon2_time_cost": 1, "argon2_memory_kib": 1024}}
