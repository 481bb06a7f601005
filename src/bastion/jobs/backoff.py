"""Retry delays: exponential growth with a ceiling and full jitter.

>>> policy = exponential(base=2, max=3600, jitter=False)
>>> [policy.delay(n) for n in (1, 2, 3, 20)]
[2.0, 4.0, 8.0, 3600.0]
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """The delay before retry number ``attempt`` (1 for the first retry)."""

    base: float = 2.0
    max: float = 3600.0
    jitter: bool = True

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.max, self.base * 2.0 ** (max(attempt, 1) - 1))
        if not self.jitter:
            return float(ceiling)
        # "Equal jitter": at least half the delay, so retries never bunch at zero.
        spread: float = (rng or random).uniform(0, ceiling / 2)
        return ceiling / 2 + spread


def exponential(*, base: float = 2.0, max: float = 3600.0, jitter: bool = True) -> Backoff:
    """``base`` seconds, doubling each retry, never more than ``max``."""
    return Backoff(base=base, max=max, jitter=jitter)
