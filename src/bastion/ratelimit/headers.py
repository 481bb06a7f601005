"""``RateLimit-Policy``, ``RateLimit`` and ``Retry-After`` (IETF httpapi draft).

>>> from bastion.ratelimit.limits import parse_limit
>>> from bastion.ratelimit.store import Decision, LimitState
>>> d = Decision(True, (LimitState(parse_limit("100/minute"), 99, 0.6),), 0.0)
>>> rate_limit_headers("default", d)
[(b'ratelimit-policy', b'"default";q=100;w=60'), (b'ratelimit', b'"default";r=99;t=1')]
"""

from __future__ import annotations

import math

from bastion.ratelimit.store import Decision

RATELIMIT_HEADERS_SCOPE_KEY = "bastion.ratelimit.headers"


def rate_limit_headers(policy: str, decision: Decision) -> list[tuple[bytes, bytes]]:
    names = (
        [policy]
        if len(decision.states) == 1
        else [f"{policy}-{i + 1}" for i in range(len(decision.states))]
    )
    policies = ", ".join(
        f'"{name}";q={s.limit.amount};w={s.limit.period:g}'
        for name, s in zip(names, decision.states, strict=True)
    )
    current = ", ".join(
        f'"{name}";r={s.remaining};t={math.ceil(s.reset_after)}'
        for name, s in zip(names, decision.states, strict=True)
    )
    headers = [(b"ratelimit-policy", policies.encode()), (b"ratelimit", current.encode())]
    if not decision.allowed:
        headers.append((b"retry-after", str(max(1, math.ceil(decision.retry_after))).encode()))
    return headers
