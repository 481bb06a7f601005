"""A rate limit store per backend, and a way to let time pass on each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bastion import ManualClock
from bastion.ratelimit import MemoryRateLimitStore, RateLimitStore, RedisRateLimitStore


@dataclass
class Backend:
    store: RateLimitStore
    wait: Callable[[float], Awaitable[None]]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def backend(request, redis_prefix) -> AsyncIterator[Backend]:
    """The memory store moves on a manual clock; Redis on its own clock, so we sleep."""
    if request.param == "memory":
        clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))

        async def advance(seconds: float) -> None:
            clock.advance(seconds=seconds)

        yield Backend(MemoryRateLimitStore(clock=clock), advance)
        return
    from bastion.core.redis import open_redis

    client = open_redis(request.getfixturevalue("redis_url"))
    yield Backend(RedisRateLimitStore(client, prefix=redis_prefix), asyncio.sleep)
    keys = [k async for k in client.scan_iter(match=f"{redis_prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
