"""Circuit breakers shared through Redis: two breakers of one name stand for two processes."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis
from structlog.testing import capture_logs

from bastion import ManualClock, create_app
from bastion.core.redis import open_redis
from bastion.ops.breaker import BreakerState, CircuitBreaker, CircuitOpen
from bastion.ops.breaker_store import BreakerStore
from bastion.ops.shared_breaker import SharedCircuitBreaker, app_breaker
from tests.conftest import make_settings

pytestmark = [pytest.mark.ops, pytest.mark.redis]


class Boom(Exception):
    pass


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture
async def redis(redis_url: str, redis_prefix: str) -> AsyncIterator[Redis]:
    client = open_redis(redis_url)
    yield client
    doomed = [key async for key in client.scan_iter(match=f"{redis_prefix}*")]
    if doomed:
        await client.delete(*doomed)
    await client.aclose()


@pytest.fixture
def store(redis: Redis, redis_prefix: str) -> BreakerStore:
    """Breakers of this store read the shared state on every call."""
    return BreakerStore(redis, prefix=redis_prefix, refresh_seconds=0)


def make(store: BreakerStore, clock: ManualClock, name: str = "payments") -> SharedCircuitBreaker:
    return SharedCircuitBreaker(
        name,
        store=store,
        clock=clock,
        minimum_calls=4,
        window_seconds=10,
        open_seconds=30,
        half_open_calls=2,
    )


async def fail(breaker: CircuitBreaker) -> None:
    async def boom() -> None:
        raise Boom

    with pytest.raises(Boom):
        await breaker.call(boom)


async def trip(breaker: CircuitBreaker) -> None:
    for _ in range(4):  # minimum_calls, all failed
        await fail(breaker)


async def succeed(breaker: CircuitBreaker) -> str:
    async def ok() -> str:
        return "ok"

    return await breaker.call(ok)


async def test_a_breaker_opened_by_one_process_is_open_in_the_other(
    redis: Redis, redis_prefix: str, clock: ManualClock
) -> None:
    store = BreakerStore(redis, prefix=redis_prefix, refresh_seconds=1)
    first, second = make(store, clock), make(store, clock)
    assert await succeed(second) == "ok"  # read the shared state: closed
    await trip(first)
    assert first.state is BreakerState.OPEN
    assert await redis.hget(store.key("payments"), "state") == b"open"

    # Within refresh_seconds the other process still decides from its cached state.
    assert await succeed(second) == "ok"
    clock.advance(seconds=1)
    with pytest.raises(CircuitOpen) as refused:
        await succeed(second)
    assert second.state is BreakerState.OPEN
    assert refused.value.retry_after == 29  # the first's opening time, not a new one


async def test_one_process_probes_and_its_recovery_closes_both(
    redis: Redis, store: BreakerStore, clock: ManualClock
) -> None:
    first, second = make(store, clock), make(store, clock)
    await trip(first)
    clock.advance(seconds=30)

    assert await succeed(first) == "ok"  # first takes the probe, its first trial passes
    with pytest.raises(CircuitOpen):
        await succeed(second)  # the probe is taken: refused
    assert second.state is BreakerState.OPEN
    assert await redis.hget(store.key("payments"), "probe") == first.owner.encode()

    assert await succeed(first) == "ok"  # second trial: closed, for everyone
    assert first.state is BreakerState.CLOSED
    assert await redis.exists(store.key("payments")) == 0
    assert await succeed(second) == "ok"
    assert second.state is BreakerState.CLOSED


async def test_of_processes_asking_for_the_probe_at_once_one_gets_it(
    store: BreakerStore, clock: ManualClock
) -> None:
    breakers = [make(store, clock) for _ in range(5)]
    await trip(breakers[0])
    clock.advance(seconds=30)
    outcomes = await asyncio.gather(*(succeed(b) for b in breakers), return_exceptions=True)
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["CircuitOpen"] * 4 + ["str"]


async def test_a_failed_probe_opens_the_breaker_again_everywhere(
    store: BreakerStore, clock: ManualClock
) -> None:
    first, second = make(store, clock), make(store, clock)
    await trip(second)
    clock.advance(seconds=31)
    await fail(first)  # first probes, and the trial fails
    with pytest.raises(CircuitOpen) as refused:
        await succeed(second)
    assert refused.value.retry_after == 30


async def test_a_probe_whose_process_died_is_taken_over_after_its_lease(
    store: BreakerStore, clock: ManualClock
) -> None:
    dead, alive = make(store, clock), make(store, clock)
    await trip(dead)
    clock.advance(seconds=30)
    assert await succeed(dead) == "ok"  # takes the probe, then never calls again
    with pytest.raises(CircuitOpen):
        await succeed(alive)
    clock.advance(seconds=30)  # the lease (open_seconds) is over
    assert await succeed(alive) == "ok"
    assert await succeed(alive) == "ok"
    assert alive.state is BreakerState.CLOSED


async def test_with_redis_down_each_breaker_decides_alone(
    redis_prefix: str, clock: ManualClock
) -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    store = BreakerStore(down, prefix=redis_prefix, refresh_seconds=0)
    first, second = make(store, clock), make(store, clock)
    with capture_logs() as logs:
        await trip(first)
        assert await succeed(second) == "ok"  # not told: Redis is down
        with pytest.raises(CircuitOpen):
            await succeed(first)
        clock.advance(seconds=30)
        assert await succeed(first) == "ok"  # half-open trials run locally
        assert await succeed(first) == "ok"
    assert first.state is BreakerState.CLOSED
    outages = [entry for entry in logs if entry["event"] == "breaker.shared_unavailable"]
    assert len(outages) == 1  # logged once
    await down.aclose()


async def test_a_change_made_while_redis_was_down_is_published_when_it_is_back(
    store: BreakerStore, redis_prefix: str, clock: ManualClock
) -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    first = make(BreakerStore(down, prefix=redis_prefix, refresh_seconds=0), clock)
    await trip(first)
    first.store = store  # Redis is back
    with pytest.raises(CircuitOpen):
        await succeed(first)
    second = make(store, clock)
    with pytest.raises(CircuitOpen):
        await succeed(second)
    await down.aclose()


def _trip_in_a_child(redis_url: str, prefix: str) -> None:
    async def main() -> None:
        redis = open_redis(redis_url)
        breaker = SharedCircuitBreaker(
            "search", store=BreakerStore(redis, prefix=prefix), minimum_calls=2
        )
        for _ in range(2):
            await fail(breaker)
        await redis.aclose()

    asyncio.run(main())


async def test_another_process_opens_the_breaker_of_this_one(
    store: BreakerStore, redis_url: str, redis_prefix: str
) -> None:
    mine = SharedCircuitBreaker("search", store=store, minimum_calls=2)
    assert await succeed(mine) == "ok"
    code = (
        "import sys; from tests.integration.test_shared_breaker import _trip_in_a_child; "
        "_trip_in_a_child(sys.argv[1], sys.argv[2])"
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, redis_url, redis_prefix
    )
    assert await child.wait() == 0
    with pytest.raises(CircuitOpen):
        await succeed(mine)


async def test_the_app_shares_the_http_client_breakers_and_named_ones(
    database_url: str, redis_url: str, redis_prefix: str, redis: Redis
) -> None:
    settings = make_settings(
        database_url,
        redis_url=redis_url,
        breakers={"shared": True, "key_prefix": redis_prefix, "refresh_seconds": 0},
    )
    app = create_app(settings)
    inventory = app_breaker(app, "inventory", minimum_calls=1)
    assert isinstance(inventory, SharedCircuitBreaker)
    await fail(inventory)
    assert await redis.hget(f"{redis_prefix}cb:{{inventory}}", "state") == b"open"
    host_breaker = app.state.bastion.http._guard("api.example.com")
    assert isinstance(host_breaker, SharedCircuitBreaker)
    assert host_breaker.name == "http:api.example.com"

    await app.state.bastion.redis.aclose()
    local = create_app(make_settings(database_url))
    assert type(app_breaker(local, "inventory")) is CircuitBreaker
