"""The Redis store: one ``EVALSHA`` per decision, atomic, on Redis server time.

Concurrent decisions of one process travel together in one pipeline
(:class:`~bastion.core.redis.ScriptBatcher`): still one script run per decision.

Key schema: ``<prefix>rl:{<key>}:<limit>:<algorithm>``. The braces are a Redis
Cluster hash tag, so every limit of one decision lives in one slot and one
script can touch them all. Keys carry a TTL and vanish once they no longer
hold information. See ``docs/rate-limiting.md``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from bastion.core.redis import ScriptBatcher
from bastion.ratelimit.limits import Limit
from bastion.ratelimit.store import MICROS, Algorithm, Decision, decision_from, emission_us

if TYPE_CHECKING:
    from redis.asyncio import Redis

_SCRIPTS = {
    "gcra": (Path(__file__).parent / "gcra.lua").read_text(),
    "sliding_window": (Path(__file__).parent / "sliding_window.lua").read_text(),
}


def _hash_tag(key: str) -> str:
    # A brace inside the key would end the hash tag early and split the slot.
    return key.replace("{", "(").replace("}", ")")


@lru_cache(maxsize=1024)
def _plan(limits: tuple[Limit, ...], algorithm: Algorithm) -> tuple[list[str], list[int]]:
    """Key suffixes and script arguments of a policy: the same on every request."""
    suffixes = [f":{limit.slug}:{algorithm}" for limit in limits]
    params: list[int] = []
    for limit in limits:
        if algorithm == "gcra":
            interval = emission_us(limit)
            params += [interval, interval * limit.burst]
        else:
            params += [limit.amount, int(limit.period * MICROS)]
    return suffixes, params


class RedisRateLimitStore:
    def __init__(self, redis: Redis, *, prefix: str = "bastion:", timeout: float = 0.05) -> None:
        """``timeout``: longest round trip of a batch of decisions, from the moment it is
        sent, in seconds; past it the decisions fail (see the policy's fail mode)."""
        self.redis = redis
        self.prefix = prefix
        self._scripts = ScriptBatcher(redis, _SCRIPTS, round_trip_timeout=timeout)

    def hit(
        self, key: str, limits: Sequence[Limit], algorithm: Algorithm, cost: int = 1
    ) -> Awaitable[Decision]:
        return self._run(key, limits, algorithm, cost, consume=True)

    def peek(self, key: str, limits: Sequence[Limit], algorithm: Algorithm) -> Awaitable[Decision]:
        return self._run(key, limits, algorithm, 1, consume=False)

    async def reset(self, key: str) -> int:
        pattern = f"{self.prefix}rl:{{{_hash_tag(key)}}}:*"
        doomed = [k async for k in self.redis.scan_iter(match=pattern, count=500)]
        return int(await self.redis.delete(*doomed)) if doomed else 0

    async def _run(
        self, key: str, limits: Sequence[Limit], algorithm: Algorithm, cost: int, *, consume: bool
    ) -> Decision:
        suffixes, params = _plan(tuple(limits), algorithm)
        base = f"{self.prefix}rl:{{{_hash_tag(key)}}}"
        keys = [base + suffix for suffix in suffixes]
        raw = await self._scripts.call(algorithm, keys, [cost, 1 if consume else 0, *params])
        values = [int(v) for v in raw]
        rows = [(limit, values[2 + 2 * i], values[3 + 2 * i]) for i, limit in enumerate(limits)]
        return decision_from(values[0] == 1, values[1], rows)
