"""Limits as text: ``"100/minute"``, ``"10/second;burst=20"``, ``"1000/15 minutes"``.

>>> parse_limits("10/second;burst=20, 1000/hour")
(Limit(amount=10, period=1.0, burst=20), Limit(amount=1000, period=3600.0, burst=1000))
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
_LIMIT = re.compile(
    r"^\s*(?P<amount>\d+)\s*/\s*(?P<count>\d+)?\s*(?P<unit>second|minute|hour|day)s?\s*"
    r"(?:;\s*burst\s*=\s*(?P<burst>\d+)\s*)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Limit:
    """``amount`` requests per ``period`` seconds; up to ``burst`` at once (GCRA)."""

    amount: int
    period: float
    burst: int

    @property
    def slug(self) -> str:
        """A short, stable name used in store keys and headers: ``100-per-60s``."""
        return f"{self.amount}-per-{self.period:g}s"

    def __str__(self) -> str:
        burst = f";burst={self.burst}" if self.burst != self.amount else ""
        return f"{self.amount}/{self.period:g}s{burst}"


def parse_limit(text: str) -> Limit:
    match = _LIMIT.match(text)
    if match is None:
        raise ValueError(
            f"bad rate limit {text!r}; write it like '100/minute', '10/second;burst=20' "
            "or '1000/15 minutes'"
        )
    amount = int(match["amount"])
    period = _UNITS[match["unit"].lower()] * int(match["count"] or 1)
    burst = int(match["burst"]) if match["burst"] else amount
    if amount < 1 or burst < 1:
        raise ValueError(
            f"bad rate limit {text!r}: amount and burst must be at least 1, as in '100/minute'"
        )
    return Limit(amount, period, burst)


def parse_limits(spec: str | Sequence[str] | Sequence[Limit]) -> tuple[Limit, ...]:
    """One or more limits from a comma-separated string or a list."""
    items: list[str | Limit] = [*spec.split(",")] if isinstance(spec, str) else [*spec]
    limits = tuple(i if isinstance(i, Limit) else parse_limit(i) for i in items if i != "")
    if not limits:
        raise ValueError("a rate limit policy needs at least one limit")
    return limits
