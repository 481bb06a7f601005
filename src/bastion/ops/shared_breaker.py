"""A circuit breaker whose state every process shares through Redis.

Each process counts its own calls (traffic spread over the processes gives
each the same failure ratio) and decides from its local state, so a call costs
no round trip. Redis is consulted only:

* by one call per ``refresh_seconds``, which reads the shared state: an open
  breaker elsewhere opens this one, a close elsewhere closes it;
* when this process's breaker opens or closes, to tell the others;
* when an open breaker is due a trial, to take the half-open probe: one process
  of the fleet gets it (for ``open_seconds`` at most), the others keep refusing.

When Redis fails, the breaker behaves as a local one (see :class:`BreakerStore`)
and publishes its state once Redis answers again.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from fastapi import FastAPI

from bastion.core.state import BastionState, bastion_state
from bastion.ops.breaker import BreakerState, CircuitBreaker
from bastion.ops.breaker_store import BreakerStore, Shared
from bastion.ops.metrics import Metrics
from bastion.ops.settings import BreakerSettings

__all__ = ["SharedCircuitBreaker", "app_breaker", "install_breaker_store"]


class SharedCircuitBreaker(CircuitBreaker):
    """A :class:`CircuitBreaker` kept in step with the same name in other processes."""

    def __init__(
        self,
        name: str,
        *,
        store: BreakerStore,
        refresh_seconds: float | None = None,
        **options: Any,
    ) -> None:
        """``refresh_seconds``: longest use of the cached shared state; default the store's."""
        super().__init__(name, **options)
        self.store = store
        self.refresh_seconds = store.refresh_seconds if refresh_seconds is None else refresh_seconds
        self.owner = f"{os.getpid()}:{secrets.token_hex(4)}"
        self._refreshed_at = -float("inf")
        self._probe_generation = -1  # the half-open generation this process probes in
        self._unpublished = False  # a change Redis has not heard of (it was down)

    async def __aenter__(self) -> None:
        now = self._now()
        if now - self._refreshed_at >= self.refresh_seconds:
            self._refreshed_at = now  # the other calls meanwhile use the cached state
            if self._unpublished:
                await self._sync(self._publish, publishing=True)
            else:
                await self._sync(self._read)
        if self.state is BreakerState.HALF_OPEN and self._probe_generation != self._generation:
            self._probe_generation = self._generation  # Redis down: probe alone
            await self._sync(self._claim)
        await super().__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        generation = self._generation
        await super().__aexit__(exc_type, exc, tb)
        if self._generation != generation:  # this call opened or closed the breaker
            await self._sync(self._publish, publishing=True)

    # -- Redis ----------------------------------------------------------------------

    async def _read(self) -> Shared | None:
        return await self.store.read(self.name, self.owner, self._now())

    async def _claim(self) -> Shared | None:
        return await self.store.claim(self.name, self.owner, self._now(), self.open_seconds)

    async def _publish(self) -> Shared | None:
        now = self._now()
        if self._state is BreakerState.OPEN:
            return await self.store.trip(self.name, self.owner, now, self._open_until)
        if self._state is BreakerState.CLOSED:
            return await self.store.close(self.name, self.owner, now)
        return await self.store.read(self.name, self.owner, now)

    async def _sync(
        self, exchange: Callable[[], Awaitable[Shared | None]], *, publishing: bool = False
    ) -> None:
        """Run one exchange with Redis and adopt its answer, unless this process's
        state changed meanwhile (its own news is newer)."""
        generation = self._generation
        shared = await exchange()
        if publishing:
            self._unpublished = shared is None
        if shared is not None and generation == self._generation:
            self._adopt(shared)

    def _adopt(self, shared: Shared) -> None:
        if shared.state == "probe":
            self._probe_generation = self._generation
        elif shared.state == "closed":
            if self._state is not BreakerState.CLOSED:
                self._window.clear()
                self._move(BreakerState.CLOSED)
        elif self._state is BreakerState.CLOSED or abs(shared.until - self._open_until) >= 0.001:
            # Open elsewhere, or another process probes: refused until then.
            self._open_until = shared.until
            if self._state is not BreakerState.OPEN:
                self._move(BreakerState.OPEN)


def install_breaker_store(state: BastionState, settings: BreakerSettings) -> BreakerStore | None:
    """The app's store of shared breaker states, when ``BASTION_BREAKERS__SHARED`` and Redis."""
    if not settings.shared or state.redis is None:
        return None
    store = state.extensions["breaker_store"] = BreakerStore(
        state.redis,
        prefix=settings.key_prefix,
        timeout=settings.timeout_seconds,
        refresh_seconds=settings.refresh_seconds,
    )
    return store


def app_breaker(app: FastAPI, name: str, **options: Any) -> CircuitBreaker:
    """A breaker on the app's clock and metrics; shared through Redis when the app shares them."""
    state = bastion_state(app)
    metrics = state.extensions.get("metrics")
    options.setdefault("clock", state.clock)
    options.setdefault("metrics", metrics if isinstance(metrics, Metrics) else None)
    store = state.extensions.get("breaker_store")
    if isinstance(store, BreakerStore):
        return SharedCircuitBreaker(name, store=store, **options)
    return CircuitBreaker(name, **options)
