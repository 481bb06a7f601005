"""``RateLimit-Policy``, ``RateLimit`` and ``Retry-After`` (IETF httpapi draft).

>>> from bastion.ratelimit.limits import parse_limit
>>> from bastion.ratelimit.limits import Limit
from bastion.ratelimit.store import Decision, LimitState
>>> d = Decision(True, (LimitState(parse_limit("100/minute"), 99, 0.6),), 0.0)
>>> rate_limit_headers("default", d)
[(b'ratelimit-policy', b'"default";q=100;w=60'), (b'ratelimit', b'"default";r=99;t=1')]
"""

from __future__ import annotations

import math
from functools import lru_cache

from bastion.ratelimit.limits import Limit
from bastion.ratelimit.store import Decision


@lru_cache(maxsize=1024)
def _item_names(policy: str, count: int) -> tuple[str, ...]:
    return (policy,) if count == 1 else tuple(f"{policy}-{i + 1}" for i in range(count))


@lru_cache(maxsize=1024)
def _policy_header(names: tuple[str, ...], limits: tuple[Limit, ...]) -> bytes:
    return ", ".join(
        f'"{name}";q={limit.amount};w={limit.period:g}'
        for name, limit in zip(names, limits, strict=True)
    ).encode()


def rate_limit_headers(policy: str, decision: Decision) -> list[tuple[bytes, bytes]]:
    names = _item_names(policy, len(decision.states))
    policies = _policy_header(names, tuple(s.limit for s in decision.states))
    current = ", ".join(
        f'"{name}";r={s.remaining};t={math.ceil(s.reset_after)}'
        for name, s in zip(names, decision.states, strict=True)
    )
    headers = [(b"ratelimit-policy", policies), (b"ratelimit", current.encode())]
    if not decision.allowed:
        headers.append((b"retry-after", str(max(1, math.ceil(decision.retry_after))).encode()))
    return headers
