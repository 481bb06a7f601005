"""Health probes in-process: what an orchestrator sees from /livez, /readyz and /startupz."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bastion import bastion_state, create_app
from bastion.lifecycle import migrations
from examples.taskboard.app import build
from tests.conftest import ClientFactory, make_settings

pytestmark = [pytest.mark.ops]

PROBLEM_JSON = "application/problem+json"
# Nothing listens on port 1: connections are refused at once.
UNREACHABLE_PG = "postgresql+asyncpg://postgres:s3cret-pw@127.0.0.1:1/x"
UNREACHABLE_REDIS = "redis://:s3cret-pw@127.0.0.1:1/0"


def assert_problem(response: httpx.Response, *, failing: str) -> dict[str, Any]:
    assert response.status_code == 503
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == 503
    assert failing in body["detail"]
    assert body["checks"][failing]["status"] == "fail"
    # Driver messages carry hosts, ports and users: the prober sees the error type only.
    for secret in ("s3cret-pw", "127.0.0.1", "Errno", "Connect call failed"):
        assert secret not in response.text
    return body


async def test_readyz_passes_with_database(database_url: str, client_for: ClientFactory) -> None:
    client = await client_for(create_app(make_settings(database_url)))
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "pass", "checks": {"database": {"status": "pass"}}}


async def test_livez_needs_no_database(client_for: ClientFactory) -> None:
    app = create_app(make_settings(UNREACHABLE_PG, health_timeout_seconds=0.5))
    client = await client_for(app, migrate=False)
    response = await client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "pass"}


async def test_readyz_fails_when_database_unreachable(client_for: ClientFactory) -> None:
    app = create_app(make_settings(UNREACHABLE_PG, health_timeout_seconds=0.5))
    client = await client_for(app, migrate=False)
    response = await client.get("/readyz")
    body = assert_problem(response, failing="database")
    assert body["checks"] == {"database": {"status": "fail", "error": "ConnectionRefusedError"}}
    assert body["instance"] == "/readyz"


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP port that accepts connections and never answers (a hung database)."""
    writers: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


async def test_readyz_times_out_on_hung_database(
    silent_server: int, client_for: ClientFactory
) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{silent_server}/x"
    app = create_app(make_settings(url, health_timeout_seconds=0.3))
    client = await client_for(app, migrate=False)
    started = time.monotonic()
    response = await client.get("/readyz")
    elapsed = time.monotonic() - started
    body = assert_problem(response, failing="database")
    assert body["checks"]["database"]["error"] == "timed out after 0.3s"
    assert elapsed < 3


@pytest.mark.redis
async def test_readyz_checks_redis_when_configured(
    sqlite_url: str, redis_url: str, client_for: ClientFactory
) -> None:
    client = await client_for(create_app(make_settings(sqlite_url, redis_url=redis_url)))
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "database": {"status": "pass"},
        "redis": {"status": "pass"},
    }


async def test_readyz_fails_when_redis_unreachable(
    sqlite_url: str, client_for: ClientFactory
) -> None:
    settings = make_settings(sqlite_url, redis_url=UNREACHABLE_REDIS, health_timeout_seconds=1)
    client = await client_for(create_app(settings))
    response = await client.get("/readyz")
    body = assert_problem(response, failing="redis")
    assert body["detail"] == "Failing checks: redis."
    assert body["checks"]["database"] == {"status": "pass"}


async def test_startupz_waits_for_migrations(database_url: str, client_for: ClientFactory) -> None:
    app = build(make_settings(database_url))
    client = await client_for(app, migrate=False)

    response = await client.get("/startupz")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    check = response.json()["checks"]["migrations"]
    assert check["status"] == "fail"
    assert "bastion_0001" in check["error"]
    assert "taskboard_0001" in check["error"]
    assert "bastion db upgrade" in check["error"]
    # Readiness is about dependencies, not the schema: it still passes.
    assert (await client.get("/readyz")).status_code == 200

    state = bastion_state(app)
    await migrations.upgrade(state.db, state.migration_dirs)
    response = await client.get("/startupz")
    assert response.status_code == 200
    assert response.json() == {"status": "pass", "checks": {"migrations": {"status": "pass"}}}
