"""The in-memory store: exact within one process, bounded, expiring.

The arithmetic mirrors the Lua scripts line for line, in integer microseconds,
so the contract tests hold for both.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Sequence

from bastion.core.clock import Clock, SystemClock
from bastion.ratelimit.limits import Limit
from bastion.ratelimit.store import MICROS, Algorithm, Decision, decision_from, emission_us

State = int | list[int]  # GCRA: theoretical arrival time; window: sorted hit times


class MemoryRateLimitStore:
    """Keeps at most ``max_keys`` counters, dropping the least recently used first."""

    def __init__(self, *, clock: Clock | None = None, max_keys: int = 100_000) -> None:
        self.clock = clock or SystemClock()
        self.max_keys = max_keys
        self._states: OrderedDict[str, tuple[int, State]] = OrderedDict()  # key -> (expiry, state)

    def _now(self) -> int:
        return int(self.clock.now().timestamp() * MICROS)

    def _get(self, key: str, now: int) -> State | None:
        entry = self._states.get(key)
        if entry is None or entry[0] <= now:
            return None
        self._states.move_to_end(key)
        return entry[1]

    def _put(self, key: str, expiry: int, state: State) -> None:
        self._states[key] = (expiry, state)
        self._states.move_to_end(key)
        while len(self._states) > self.max_keys:
            self._states.popitem(last=False)

    async def hit(
        self, key: str, limits: Sequence[Limit], algorithm: Algorithm, cost: int = 1
    ) -> Decision:
        return self._decide(key, limits, algorithm, cost, consume=True)

    async def peek(self, key: str, limits: Sequence[Limit], algorithm: Algorithm) -> Decision:
        return self._decide(key, limits, algorithm, 1, consume=False)

    async def reset(self, key: str) -> int:
        prefix = f"{key}|"
        doomed = [k for k in self._states if k.startswith(prefix)]
        for k in doomed:
            del self._states[k]
        return len(doomed)

    def _decide(
        self, key: str, limits: Sequence[Limit], algorithm: Algorithm, cost: int, *, consume: bool
    ) -> Decision:
        now = self._now()
        names = [f"{key}|{limit.slug}|{algorithm}" for limit in limits]
        if algorithm == "gcra":
            return self._gcra(names, limits, now, cost, consume)
        return self._window(names, limits, now, cost, consume)

    def _gcra(
        self, names: list[str], limits: Sequence[Limit], now: int, cost: int, consume: bool
    ) -> Decision:
        allowed, retry = True, 0
        plans: list[tuple[int, int, int]] = []  # (tat, new_tat, tolerance)
        for name, limit in zip(names, limits, strict=True):
            interval = emission_us(limit)
            tolerance = interval * limit.burst
            stored = self._get(name, now)
            tat = max(stored if isinstance(stored, int) else now, now)
            new_tat = tat + interval * cost
            allow_at = new_tat - tolerance
            if now < allow_at:
                allowed = False
                retry = max(retry, allow_at - now)
            plans.append((tat, new_tat, tolerance))
        rows = []
        for name, limit, (tat, new_tat, tolerance) in zip(names, limits, plans, strict=True):
            interval = emission_us(limit)
            if allowed and consume:
                self._put(name, new_tat, new_tat)
                rows.append((limit, (now - (new_tat - tolerance)) // interval, new_tat - now))
            else:
                rows.append((limit, (now - (tat - tolerance)) // interval, tat - now))
        return decision_from(allowed, retry, rows)

    def _window(
        self, names: list[str], limits: Sequence[Limit], now: int, cost: int, consume: bool
    ) -> Decision:
        allowed, retry = True, 0
        logs: list[list[int]] = []
        for name, limit in zip(names, limits, strict=True):
            period = int(limit.period * MICROS)
            stored = self._get(name, now)
            log = stored if isinstance(stored, list) else []
            del log[: bisect.bisect_right(log, now - period)]
            if len(log) + cost > limit.amount:
                allowed = False
                # Wait until enough of the oldest hits leave the window.
                index = len(log) + cost - limit.amount - 1
                free_at = log[index] + period if index < len(log) else now + period
                retry = max(retry, free_at - now)
            logs.append(log)
        rows = []
        for name, limit, log in zip(names, limits, logs, strict=True):
            period = int(limit.period * MICROS)
            if allowed and consume:
                log.extend([now] * cost)
                self._put(name, now + period, log)
            oldest = log[0] if log else now
            rows.append((limit, limit.amount - len(log), oldest + period - now if log else 0))
        return decision_from(allowed, retry, rows)
