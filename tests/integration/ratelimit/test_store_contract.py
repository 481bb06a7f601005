"""One contract, every store: depletion, refill, all-or-nothing, peek, reset."""

from __future__ import annotations

import asyncio

import pytest

from bastion.ratelimit import parse_limits

pytestmark = pytest.mark.ratelimit


async def hits(store, key, spec, n, algorithm="gcra"):
    limits = parse_limits(spec)
    return [await store.hit(key, limits, algorithm) for _ in range(n)]


@pytest.mark.parametrize("algorithm", ["gcra", "sliding_window"])
async def test_depletes_then_refuses_with_retry_after(backend, algorithm):
    decisions = await hits(backend.store, "k", "5/second", 6, algorithm)
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.states[0].remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    refused = decisions[-1]
    assert 0 < refused.retry_after <= 1.0
    assert refused.states[0].remaining == 0


async def test_gcra_refills_one_token_per_interval(backend):
    limits = parse_limits("5/second")
    for _ in range(5):
        assert (await backend.store.hit("k", limits, "gcra")).allowed
    assert not (await backend.store.hit("k", limits, "gcra")).allowed
    await backend.wait(0.25)  # one interval is 0.2 s
    assert (await backend.store.hit("k", limits, "gcra")).allowed
    assert not (await backend.store.hit("k", limits, "gcra")).allowed
    await backend.wait(1.05)
    refilled = await backend.store.hit("k", limits, "gcra")
    assert refilled.allowed and refilled.states[0].remaining == 4


async def test_gcra_burst_above_sustained_rate(backend):
    decisions = await hits(backend.store, "k", "2/second;burst=4", 5)
    assert [d.allowed for d in decisions] == [True] * 4 + [False]
    assert 0.4 < decisions[-1].retry_after <= 0.5


async def test_sliding_window_frees_slots_as_hits_age_out(backend):
    limits = parse_limits("3/second")
    await backend.store.hit("k", limits, "sliding_window")
    await backend.wait(0.5)
    await backend.store.hit("k", limits, "sliding_window")
    await backend.store.hit("k", limits, "sliding_window")
    refused = await backend.store.hit("k", limits, "sliding_window")
    assert not refused.allowed
    assert 0.4 < refused.retry_after <= 0.5  # when the first hit leaves the window
    await backend.wait(0.55)
    assert (await backend.store.hit("k", limits, "sliding_window")).allowed
    assert not (await backend.store.hit("k", limits, "sliding_window")).allowed


@pytest.mark.parametrize("algorithm", ["gcra", "sliding_window"])
async def test_refused_request_consumes_from_no_limit(backend, algorithm):
    """A request refused by one limit does not eat into the others."""
    # Slow enough that no token comes back while the test runs on a loaded machine.
    limits = parse_limits("100/hour, 2/day")
    store = backend.store
    assert [(await store.hit("k", limits, algorithm)).allowed for _ in range(4)] == [
        True,
        True,
        False,
        False,
    ]
    state = await store.peek("k", limits, algorithm)
    assert state.states[0].remaining == 98
    assert state.states[1].remaining == 0


async def test_peek_consumes_nothing(backend):
    limits = parse_limits("3/minute")
    await backend.store.hit("k", limits, "gcra")
    for _ in range(5):
        peeked = await backend.store.peek("k", limits, "gcra")
        assert peeked.allowed and peeked.states[0].remaining == 2


@pytest.mark.parametrize("algorithm", ["gcra", "sliding_window"])
async def test_reset_forgets_the_key_only(backend, algorithm):
    limits = parse_limits("1/hour")
    await backend.store.hit("a", limits, algorithm)
    await backend.store.hit("b", limits, algorithm)
    assert await backend.store.reset("a") == 1
    assert await backend.store.reset("missing") == 0
    assert (await backend.store.hit("a", limits, algorithm)).allowed
    assert not (await backend.store.hit("b", limits, algorithm)).allowed


async def test_keys_are_independent_even_with_braces(backend):
    limits = parse_limits("1/hour")
    assert (await backend.store.hit("user:{1}", limits, "gcra")).allowed
    assert (await backend.store.hit("user:(1)x", limits, "gcra")).allowed
    assert not (await backend.store.hit("user:{1}", limits, "gcra")).allowed


@pytest.mark.concurrency
@pytest.mark.parametrize("algorithm", ["gcra", "sliding_window"])
async def test_concurrent_hits_never_exceed_the_limit(backend, algorithm):
    limits = parse_limits("50/hour")
    decisions = await asyncio.gather(
        *(backend.store.hit("hot", limits, algorithm) for _ in range(120))
    )
    assert sum(d.allowed for d in decisions) == 50


async def test_cost_takes_several_tokens(backend):
    limits = parse_limits("10/hour")
    assert (await backend.store.hit("k", limits, "gcra", cost=7)).states[0].remaining == 3
    assert not (await backend.store.hit("k", limits, "gcra", cost=4)).allowed
    assert (await backend.store.hit("k", limits, "gcra", cost=3)).allowed


@pytest.fixture
async def redis_store(redis_url, redis_prefix):
    from bastion.core.redis import open_redis
    from bastion.ratelimit import RedisRateLimitStore

    client = open_redis(redis_url)
    yield client, RedisRateLimitStore(client, prefix=redis_prefix)
    keys = [k async for k in client.scan_iter(match=f"{redis_prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.mark.redis
async def test_redis_reloads_scripts_after_a_flush(redis_store):
    client, store = redis_store
    limits = parse_limits("3/hour")
    assert (await store.hit("k", limits, "gcra")).allowed
    await client.script_flush()
    decisions = await asyncio.gather(*(store.hit("k", limits, "gcra") for _ in range(3)))
    assert [d.allowed for d in decisions].count(True) == 2


@pytest.mark.redis
async def test_redis_caller_giving_up_leaves_the_store_consistent(redis_store):
    client, store = redis_store
    limits = parse_limits("5/hour")
    for _ in range(20):  # cancelled at once: each may or may not have taken a token
        task = asyncio.ensure_future(store.hit("k", limits, "gcra"))
        await asyncio.sleep(0)
        task.cancel()
    await asyncio.sleep(0.1)
    state = await store.peek("k", limits, "gcra")
    assert 0 <= 5 - state.states[0].remaining <= 5
    assert (await store.hit("k2", limits, "gcra")).allowed  # the connection still works
    assert (await client.ping()) is True
