"""The store contract: one atomic decision over all of a policy's limits.

A decision either consumes ``cost`` from every limit or from none: a request
refused by its hourly quota does not eat into its per-second burst. Times are
the store's own (Redis server time for Redis), so app hosts' clocks don't matter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from bastion.ratelimit.limits import Limit

Algorithm = Literal["gcra", "sliding_window"]
MICROS = 1_000_000


@dataclass(frozen=True)
class LimitState:
    """One limit after the decision: requests left and seconds until fully reset."""

    limit: Limit
    remaining: int
    reset_after: float


@dataclass(frozen=True)
class Decision:
    """The verdict for one request; ``retry_after`` is 0 when allowed."""

    allowed: bool
    states: tuple[LimitState, ...]
    retry_after: float


class RateLimitStore(Protocol):
    """Where counters live. Every method is one atomic step.

    A store that crosses the network bounds its own waits and raises when one
    runs out (the limiter then applies the policy's fail mode); it must stay
    consistent when a caller is cancelled while waiting.
    """

    def hit(
        self, key: str, limits: Sequence[Limit], algorithm: Algorithm, cost: int = 1
    ) -> Awaitable[Decision]:
        """Consume ``cost`` from every limit of ``key`` if all allow it, else from none."""
        ...

    def peek(self, key: str, limits: Sequence[Limit], algorithm: Algorithm) -> Awaitable[Decision]:
        """The state ``hit`` would see, consuming nothing."""
        ...

    def reset(self, key: str) -> Awaitable[int]:
        """Forget every counter of ``key``; returns how many were removed (0 if none)."""
        ...


def emission_us(limit: Limit) -> int:
    """The GCRA emission interval in whole microseconds (both stores use the same)."""
    return max(1, round(limit.period * MICROS / limit.amount))


def decision_from(allowed: bool, retry_us: int, rows: Sequence[tuple[Limit, int, int]]) -> Decision:
    """Build a :class:`Decision` from ``(limit, remaining, reset_after_us)`` rows."""
    states = tuple(LimitState(limit, max(0, r), max(0, t) / MICROS) for limit, r, t in rows)
    return Decision(allowed, states, 0.0 if allowed else max(0, retry_us) / MICROS)
