"""A policy: the limits, the key they count by, the algorithm and the failure mode."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from bastion.ratelimit.keys import Key, by_ip
from bastion.ratelimit.limits import Limit, parse_limits
from bastion.ratelimit.store import Algorithm

FailMode = Literal["open", "closed"]


@dataclass(frozen=True)
class Policy:
    """``Policy.of("default", "100/minute")``; ``name`` namespaces the counters."""

    name: str
    limits: tuple[Limit, ...]
    key: Key = field(default=by_ip)
    algorithm: Algorithm = "gcra"
    fail_mode: FailMode = "open"
    cost: int = 1

    def __post_init__(self) -> None:
        if self.cost < 1:
            raise ValueError("a rate limit cost must be at least 1")
        if self.algorithm not in ("gcra", "sliding_window"):
            raise ValueError(f"unknown rate limit algorithm {self.algorithm!r}")

    @classmethod
    def of(
        cls,
        name: str,
        limits: str | Sequence[str] | Sequence[Limit],
        *,
        key: Key = by_ip,
        algorithm: Algorithm = "gcra",
        fail_mode: FailMode = "open",
        cost: int = 1,
    ) -> Policy:
        return cls(name, parse_limits(limits), key, algorithm, fail_mode, cost)
