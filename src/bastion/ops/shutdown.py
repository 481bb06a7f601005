"""Graceful shutdown: on SIGTERM, fail readiness first, stop accepting later.

An orchestrator sends SIGTERM and, at the same time, starts taking the pod out
of its load balancers, which takes a few seconds to reach every one of them.
Requests keep arriving meanwhile. So on the first SIGTERM the process:

1. answers ``/readyz`` with 503 at once (a load balancer probing readiness
   stops sending new work);
2. keeps serving for ``BASTION_SHUTDOWN__DRAIN_SECONDS``;
3. then hands the signal to the server (uvicorn), which stops accepting
   connections, lets the requests in flight finish (``bastion serve`` waits up
   to ``BASTION_SHUTDOWN__GRACE_SECONDS``) and runs the lifespan's end, which
   closes the database and Redis pools.

A second SIGTERM skips what is left of the drain. SIGINT (Ctrl-C) is left to
the server. The handler wraps the server's own: it is installed when the
lifespan starts (after the server installed its handlers) and put back when it
ends. Signal handlers belong to the main thread; an app run in another thread
(a test client's) leaves the signals alone.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

import structlog

from bastion.ops.health import Readiness

log = structlog.get_logger("bastion.ops.shutdown")
Handler = Callable[[int, FrameType | None], Any] | int | None


class GracefulShutdown:
    """Turns SIGTERM into: readiness 503, ``drain_seconds`` of service, then the server's stop."""

    def __init__(self, readiness: Readiness, *, drain_seconds: float) -> None:
        self.readiness = readiness
        self.drain_seconds = drain_seconds
        self._previous: Handler = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._forward: asyncio.TimerHandle | None = None

    @asynccontextmanager
    async def installed(self) -> AsyncIterator[None]:
        """Handle SIGTERM while the app runs (a no-op off the main thread or without drain)."""
        if self.drain_seconds <= 0 or threading.current_thread() is not threading.main_thread():
            yield
            return
        self._loop = asyncio.get_running_loop()
        self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, self._previous)
            if self._forward is not None:
                self._forward.cancel()

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        # Runs in the main thread between two bytecodes of whatever ran: only flag
        # and schedule here; the loop does the rest.
        assert self._loop is not None
        if self.readiness.draining:
            log.info("shutdown.drain_cut_short")
            self._loop.call_soon_threadsafe(self._stop_serving, signum)
            return
        self.readiness.draining = True
        self._loop.call_soon_threadsafe(self._drain, signum)

    def _drain(self, signum: int) -> None:
        log.info("shutdown.draining", drain_seconds=self.drain_seconds)
        assert self._loop is not None
        self._forward = self._loop.call_later(self.drain_seconds, self._stop_serving, signum)

    def _stop_serving(self, signum: int) -> None:
        if self._forward is not None:
            self._forward.cancel()
            self._forward = None
        log.info("shutdown.stop_accepting")
        previous = self._previous
        if callable(previous):
            previous(signum, None)
        elif previous != signal.SIG_IGN:
            # No server handler to hand over to (the default action): end the
            # process as SIGTERM would have, now that the drain is over.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)
