"""Wiring the outbox into an app: the relay in ``state.extensions``, optionally running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from bastion.core.errors import ConfigurationError
from bastion.core.state import BastionState, bastion_state
from bastion.jobs import JobsRegistry
from bastion.ops.metrics import Metrics
from bastion.outbox.relay import Handler, Relay
from bastion.outbox.settings import OutboxSettings


def install_outbox(
    state: BastionState,
    settings: OutboxSettings,
    handlers: Mapping[str, Handler],
    metrics: Metrics,
    jobs: JobsRegistry,
) -> Relay:
    """The app's relay. Unless it runs in the app (``relay_in_app``), every job worker
    (the embedded one in development, ``bastion worker`` in production) runs it
    beside its jobs, once the app has outbox handlers (features add theirs later)."""
    relay = state.extensions["outbox"] = Relay(
        state.db, handlers, settings, clock=state.clock, metrics=metrics
    )
    in_memory = state.db.dialect == "sqlite" and state.db.url.database in (None, "", ":memory:")
    if settings.relay_in_app or in_memory:
        # (An in-memory SQLite database is one shared connection: a relay beside the
        # worker would interleave its transactions with the requests'.)
        return relay

    async def relay_beside_worker(stop: asyncio.Event) -> None:
        if relay.handlers or relay.batch_handlers:
            await relay.run(stop)

    jobs.loop_companion("bastion.outbox.relay", relay_beside_worker)
    return relay


def outbox_relay(app: Any) -> Relay:
    """The relay of an app made by ``create_app`` (with its ``outbox_handlers``)."""
    relay = bastion_state(app).extensions.get("outbox")
    if not isinstance(relay, Relay):
        raise ConfigurationError("this app has no outbox relay; build it with create_app")
    return relay


@asynccontextmanager
async def running(relay: Relay, enabled: bool) -> AsyncIterator[None]:
    """Run ``relay`` in the background while the block runs (when ``enabled``)."""
    if not enabled:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(relay.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task
