"""A circuit breaker for calls to a dependency that may be down.

::

    closed ──(failure ratio ≥ failure_ratio over ≥ minimum_calls in the window)──> open
    open ──(open_seconds later, on the next call)──> half-open
    half-open ──(half_open_calls trial calls all succeed)──> closed (window cleared)
    half-open ──(any trial call fails)──> open

While open, calls fail fast with :class:`CircuitOpen` (problem ``ops.circuit_open``,
503 with ``Retry-After``) instead of waiting on a dependency that is not answering.
Outcomes are counted per second over a rolling ``window_seconds``: memory is at
most one bucket per second of the window. Time comes only from the injected clock.

The breaker holds the state of one process; it needs no lock because its state
changes only between awaits.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from enum import StrEnum
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

import structlog
from prometheus_client import Counter, Gauge

from bastion.core.clock import Clock, SystemClock
from bastion.core.errors import BastionError
from bastion.ops.metrics import Metrics

__all__ = ["BreakerState", "CircuitBreaker", "CircuitOpen"]

P = ParamSpec("P")
T = TypeVar("T")

log = structlog.get_logger("bastion.ops.breaker")


class BreakerState(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


# The values of the ``bastion_circuit_breaker_state`` gauge.
STATE_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class CircuitOpen(BastionError):
    """A call refused without being made, because its breaker is open."""

    code = "ops.circuit_open"
    status = 503
    title = "Circuit open"

    def __init__(self, breaker: str, retry_after: int) -> None:
        super().__init__(
            f"The circuit breaker {breaker!r} is open; retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )
        self.breaker = breaker
        self.retry_after = retry_after


class _Window:
    """Calls and failures of the last ``seconds`` seconds, one bucket per second."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self.calls = 0
        self.failures = 0
        self._buckets: deque[list[int]] = deque()  # [second, calls, failures], oldest first

    def expire(self, now: float) -> None:
        oldest = math.floor(now) - self.seconds
        while self._buckets and self._buckets[0][0] <= oldest:
            _, calls, failures = self._buckets.popleft()
            self.calls -= calls
            self.failures -= failures

    def record(self, now: float, *, failed: bool) -> None:
        self.expire(now)
        second = math.floor(now)
        # A clock set backwards adds to the newest bucket rather than reorder them.
        if not self._buckets or self._buckets[-1][0] < second:
            self._buckets.append([second, 0, 0])
        bucket = self._buckets[-1]
        bucket[1] += 1
        self.calls += 1
        if failed:
            bucket[2] += 1
            self.failures += 1

    def clear(self) -> None:
        self._buckets.clear()
        self.calls = self.failures = 0


class CircuitBreaker:
    """Guards calls to one dependency; use ``async with breaker:``, ``@breaker`` or
    ``await breaker.call(fn, *args)``.

    ``is_failure(exc)`` says whether an exception counts against the dependency
    (a 404 from it may not); an exception it clears counts as a success and is
    still raised. A cancelled call counts as nothing.
    """

    def __init__(
        self,
        name: str,
        *,
        failure_ratio: float = 0.5,
        minimum_calls: int = 20,
        window_seconds: int = 60,
        open_seconds: float = 30,
        half_open_calls: int = 3,
        clock: Clock | None = None,
        metrics: Metrics | None = None,
        is_failure: Callable[[Exception], bool] = lambda exc: True,
    ) -> None:
        if not 0 < failure_ratio <= 1:
            raise ValueError(f"failure_ratio must be in (0, 1], not {failure_ratio}")
        if minimum_calls < 1:
            raise ValueError(f"minimum_calls must be at least 1, not {minimum_calls}")
        if int(window_seconds) != window_seconds or window_seconds < 1:
            raise ValueError(f"window_seconds must be a whole number ≥ 1, not {window_seconds}")
        if open_seconds <= 0:
            raise ValueError(f"open_seconds must be positive, not {open_seconds}")
        if half_open_calls < 1:
            raise ValueError(f"half_open_calls must be at least 1, not {half_open_calls}")
        self.name = name
        self.failure_ratio = failure_ratio
        self.minimum_calls = minimum_calls
        self.open_seconds = open_seconds
        self.half_open_calls = half_open_calls
        self.is_failure = is_failure
        self._clock = clock or SystemClock()
        self._window = _Window(int(window_seconds))
        self._state = BreakerState.CLOSED
        self._open_until = 0.0
        # Bumped on every state change: a call admitted in an earlier state does
        # not count in this one (a slow call from before opening is no trial).
        self._generation = 0
        self._trials = 0  # half-open: trial calls admitted, in flight or succeeded
        self._trial_successes = 0
        # Generations of the ``async with`` blocks this task is inside, innermost last.
        self._entered: ContextVar[tuple[int, ...]] = ContextVar(f"breaker:{name}", default=())
        self._state_gauge: Gauge | None = None
        self._transitions: Counter | None = None
        if metrics is not None:
            self._state_gauge = metrics.gauge(
                "bastion_circuit_breaker_state",
                "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
                ["name"],
                multiprocess_mode="livemax",
            ).labels(name=name)
            self._state_gauge.set(STATE_VALUES[self._state])
            self._transitions = metrics.counter(
                "bastion_circuit_breaker_transitions_total",
                "Circuit breaker state changes, by the state entered.",
                ["name", "to_state"],
            )

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name!r} {self.state}>"

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker whose time is up reads half-open."""
        if self._state is BreakerState.OPEN and self._now() >= self._open_until:
            self._move(BreakerState.HALF_OPEN)
        return self._state

    # -- the three ways to guard a call ---------------------------------------------

    async def call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        async with self:
            return await fn(*args, **kwargs)

    def __call__(self, fn: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        @functools.wraps(fn)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
            async with self:
                return await fn(*args, **kwargs)

        return guarded

    async def __aenter__(self) -> None:
        generation = self._admit()
        self._entered.set((*self._entered.get(), generation))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        *outer, generation = self._entered.get()
        self._entered.set(tuple(outer))
        if exc is None:
            self._record(generation, failed=False)
        elif isinstance(exc, Exception):
            self._record(generation, failed=self.is_failure(exc))
        else:  # CancelledError, KeyboardInterrupt: says nothing about the dependency
            self._release(generation)

    # -- state ----------------------------------------------------------------------

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _admit(self) -> int:
        """Let a call through and return its generation, or raise CircuitOpen."""
        state = self.state
        if state is BreakerState.OPEN:
            raise CircuitOpen(self.name, max(1, math.ceil(self._open_until - self._now())))
        if state is BreakerState.HALF_OPEN:
            if self._trials >= self.half_open_calls:
                raise CircuitOpen(self.name, 1)
            self._trials += 1
        return self._generation

    def _record(self, generation: int, *, failed: bool) -> None:
        if generation != self._generation:
            return
        if self._state is BreakerState.HALF_OPEN:
            if failed:
                self._open()
            else:
                self._trial_successes += 1
                if self._trial_successes >= self.half_open_calls:
                    self._window.clear()
                    self._move(BreakerState.CLOSED)
        elif self._state is BreakerState.CLOSED:
            window = self._window
            window.record(self._now(), failed=failed)
            if (
                window.calls >= self.minimum_calls
                and window.failures >= self.failure_ratio * window.calls
            ):
                self._open()

    def _release(self, generation: int) -> None:
        """A trial call that ended without an outcome frees its place."""
        if generation == self._generation and self._state is BreakerState.HALF_OPEN:
            self._trials -= 1

    def _open(self) -> None:
        self._open_until = self._now() + self.open_seconds
        self._move(BreakerState.OPEN)

    def _move(self, to: BreakerState) -> None:
        previous, self._state = self._state, to
        self._generation += 1
        self._trials = self._trial_successes = 0
        fields: dict[str, Any] = {
            "breaker": self.name,
            "from_state": previous.value,
            "to_state": to.value,
        }
        if to is BreakerState.OPEN:
            fields.update(calls=self._window.calls, failures=self._window.failures)
            log.warning("breaker.state_changed", **fields)
        else:
            log.info("breaker.state_changed", **fields)
        if self._state_gauge is not None and self._transitions is not None:
            self._state_gauge.set(STATE_VALUES[to])
            self._transitions.labels(name=self.name, to_state=to.value).inc()
