"""The relay: claims batches of outbox messages and hands them to their handlers.

A plain async object with no HTTP and no CLI in it: ``bastion outbox relay``
runs one, an app can run one in its lifespan, and a job worker can call
``run(stop)`` or ``run_once()`` itself. Delivery is at least once: a relay that
dies mid-batch leaves its lease to run out, and another relay delivers the
batch again. Handlers that must act once use the inbox (``process_once``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

import structlog
from sqlalchemy.exc import SQLAlchemyError

from bastion.core.aio import first
from bastion.core.clock import Clock
from bastion.core.db import Database
from bastion.core.db.notify import listening
from bastion.ops.metrics import Metrics
from bastion.outbox.producer import CHANNEL
from bastion.outbox.settings import OutboxSettings
from bastion.outbox.store import Message, OutboxStore

log = structlog.get_logger("bastion.outbox")
Handler = Callable[[Message], Awaitable[None]]
# Takes every message of its topic in a claimed batch at once (one transaction for all).
BatchHandler = Callable[[Sequence[Message]], Awaitable[None]]
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
BACKLOG_EVERY = 5.0  # seconds between backlog reads (and burials of dead leases)


class Relay:
    """Delivers outbox messages to ``handlers`` (topic -> async callable, one message
    per call) and ``batch_handlers`` (topic -> async callable given all the messages
    of that topic in a claimed batch; if it raises, each of them is retried)."""

    def __init__(
        self,
        db: Database,
        handlers: Mapping[str, Handler],
        settings: OutboxSettings | None = None,
        *,
        clock: Clock | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.handlers = dict(handlers)
        self.batch_handlers: dict[str, BatchHandler] = {}
        self.settings = settings or OutboxSettings()
        self.store = OutboxStore(db, clock=clock)
        self.clock = self.store.clock
        self.token = secrets.token_hex(16)
        metrics = metrics or Metrics()
        self._messages = metrics.counter(
            "bastion_outbox_messages_total",
            "Outbox deliveries by topic and outcome (sent, retried, dead).",
            ["topic", "outcome"],
        )
        self._lag = metrics.histogram(
            "bastion_outbox_lag_seconds",
            "Time from a message's creation to its delivery.",
            buckets=LAG_BUCKETS,
        )
        self._backlog = metrics.gauge(
            "bastion_outbox_backlog_messages", "Pending outbox messages.", multiprocess_mode="max"
        )
        self._oldest = metrics.gauge(
            "bastion_outbox_oldest_pending_seconds",
            "Age of the oldest pending outbox message.",
            multiprocess_mode="max",
        )
        self._last_backlog = -BACKLOG_EVERY

    async def run_once(self) -> int:
        """Claim one batch, deliver it, mark it; returns how many messages were claimed."""
        batch = await self.store.claim(
            self.settings.batch_size, lease=self.settings.lease_seconds, token=self.token
        )
        if not batch:
            return 0
        grouped: dict[str, list[Message]] = {}
        for message in batch:
            if message.topic in self.batch_handlers:
                grouped.setdefault(message.topic, []).append(message)
        singles = [message for message in batch if message.topic not in grouped]
        outcomes = await asyncio.gather(
            *(self._deliver(message) for message in singles),
            *(self._deliver_all(topic, messages) for topic, messages in grouped.items()),
        )
        sent = [message.id for message, ok in zip(singles, outcomes, strict=False) if ok]
        for messages, ok in zip(grouped.values(), outcomes[len(singles) :], strict=True):
            if ok:
                sent.extend(message.id for message in messages)
        marked = await self.store.mark_sent(sent, self.token)
        if marked != len(sent):
            log.warning("outbox.lease_lost", delivered=len(sent), marked=marked)
        return len(batch)

    async def _deliver(self, message: Message) -> bool:
        handler = self.handlers.get(message.topic)
        if handler is None:
            await self._failed(message, f"LookupError: no handler for topic {message.topic!r}")
            return False
        return await self._run([message], handler(message))

    async def _deliver_all(self, topic: str, messages: Sequence[Message]) -> bool:
        return await self._run(messages, self.batch_handlers[topic](messages))

    async def _run(self, messages: Sequence[Message], handling: Awaitable[None]) -> bool:
        """Await ``handling`` of ``messages``: counted as sent, or each marked failed."""
        try:
            await handling
        except Exception as exc:
            for message in messages:
                await self._failed(message, f"{type(exc).__name__}: {exc}")
            return False
        now = self.clock.now()
        for message in messages:
            self._messages.labels(message.topic, "sent").inc()
            self._lag.observe(max(0.0, (now - message.created_at).total_seconds()))
        return True

    async def _failed(self, message: Message, error: str) -> None:
        settings = self.settings
        retry_in: float | None = None
        if message.attempts < settings.max_attempts:
            retry_in = min(
                settings.backoff_seconds * 2 ** (message.attempts - 1), settings.backoff_max_seconds
            )
        outcome = "dead" if retry_in is None else "retried"
        log.warning(
            "outbox.delivery_failed",
            message_id=message.id,
            topic=message.topic,
            attempts=message.attempts,
            outcome=outcome,
            error=error,
        )
        self._messages.labels(message.topic, outcome).inc()
        await self.store.mark_failed(message, self.token, error[:2000], retry_in=retry_in)

    async def refresh_backlog(self) -> None:
        """Bury messages whose relays kept dying, and set the backlog gauges."""
        await self.store.bury(self.settings.max_attempts)
        backlog = await self.store.backlog()
        self._backlog.set(backlog.pending)
        self._oldest.set(backlog.oldest_pending_age)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set: full batches back to back, otherwise sleep until
        a ``NOTIFY`` (PostgreSQL) or ``poll_seconds``. Errors of the database are
        logged and retried after ``poll_seconds``; the current batch is finished
        before returning."""
        wake = asyncio.Event()
        log.info("outbox.relay_started", relay=self.token, dialect=self.db.dialect)
        async with listening(self.db, CHANNEL, wake):
            while not stop.is_set():
                wake.clear()
                try:
                    claimed = await self.run_once()
                    if time.monotonic() - self._last_backlog >= BACKLOG_EVERY:
                        self._last_backlog = time.monotonic()
                        await self.refresh_backlog()
                except (SQLAlchemyError, OSError) as exc:  # the database: no traceback
                    error = f"{type(exc).__name__}: {exc}"
                    log.warning("outbox.relay_unavailable", relay=self.token, error=error)
                    claimed = 0
                except Exception:
                    log.exception("outbox.relay_error", relay=self.token)
                    claimed = 0
                if claimed < self.settings.batch_size:
                    await first(stop.wait(), wake.wait(), within=self.settings.poll_seconds)
        log.info("outbox.relay_stopped", relay=self.token)
