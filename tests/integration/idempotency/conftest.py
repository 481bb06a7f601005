"""The test app on each idempotency backend, with a way to let time pass on it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from bastion import BastionSettings, ManualClock
from tests.conftest import make_settings
from tests.integration.idempotency.app import build

LEASE = 2.0


@dataclass
class Backend:
    name: str
    client: httpx.AsyncClient
    calls: Counter[str]
    wait: Callable[[float], Awaitable[None]]


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def backend_settings(request, redis_prefix) -> tuple[str, BastionSettings, ManualClock | None]:
    """Memory and SQL stores run on a manual clock; Redis keeps its own time."""
    name = request.param
    options: dict[str, object] = {"lease_seconds": LEASE}
    overrides: dict[str, object] = {}
    database = request.getfixturevalue("postgres_url" if name == "postgres" else "sqlite_url")
    clock = None
    if name == "redis":
        options |= {"backend": "redis", "key_prefix": redis_prefix}
        overrides["redis_url"] = request.getfixturevalue("redis_url")
    else:
        options["backend"] = "memory" if name == "memory" else "sql"
        clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    settings = make_settings(
        database, idempotency=options, ratelimit={"enabled": False}, **overrides
    )
    return name, settings, clock


@pytest.fixture
async def backend(backend_settings, client_for, redis_prefix) -> AsyncIterator[Backend]:
    name, settings, clock = backend_settings
    calls: Counter[str] = Counter()
    app = build(settings, calls, clock)
    client = await client_for(app)

    async def wait(seconds: float) -> None:
        if clock is None:
            await asyncio.sleep(seconds)
        else:
            clock.advance(seconds=seconds)

    yield Backend(name, client, calls, wait)
    if name == "redis":
        redis = app.state.bastion.redis
        keys = [k async for k in redis.scan_iter(match=f"{redis_prefix}*")]
        if keys:
            await redis.delete(*keys)
