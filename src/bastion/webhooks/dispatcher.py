"""The delivery loop that runs beside every job worker: claim due deliveries in
batches, send up to ``concurrency`` at once, record the attempts in batches.

A batch of ``batch_size`` is claimed whenever that much room is left under
``batch_size + concurrency`` deliveries in hand, so the senders never wait on the
database. Results are recorded by one writer, a batch per transaction: it waits
up to :data:`LINGER` seconds for a batch to fill while sends are in flight
(recording is not on the receivers' path; fewer transactions are). The loop wakes
when this process's fan-out created deliveries, on ``NOTIFY bastion_webhooks``
(PostgreSQL: a retry or a recovery asked for through the API), and every
``poll_seconds`` for the retries that fell due.
"""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy.exc import SQLAlchemyError

from bastion.core.aio import first
from bastion.core.db.notify import listening
from bastion.tenancy.scoping import bypass_tenancy
from bastion.webhooks.delivery import CHANNEL, Claimed, Deliverer, Result

log = structlog.get_logger("bastion.webhooks")
LINGER = 0.02  # seconds the recorder waits for a batch to fill


class Dispatcher:
    def __init__(self, deliverer: Deliverer) -> None:
        self.deliverer = deliverer
        settings = deliverer.settings
        self.batch = settings.batch_size
        self.capacity = settings.batch_size + settings.concurrency
        self.poll_seconds = settings.poll_seconds
        self.sending = asyncio.Semaphore(settings.concurrency)
        self.in_hand: set[asyncio.Task[None]] = set()
        self.results: list[Result] = []
        self.room = asyncio.Event()  # room for a batch
        self.unrecorded = asyncio.Event()  # a batch of results (or the last) to record

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then finish and record what is in hand.
        Errors of the database are logged and retried after ``poll_seconds``."""
        due = self.deliverer.due
        with bypass_tenancy("webhooks dispatcher: due deliveries of every tenant"):
            recorder = asyncio.ensure_future(self._record_until(stop))
            async with listening(self.deliverer.db, CHANNEL, due):
                while not stop.is_set():
                    room = self.capacity - len(self.in_hand)
                    if room < self.batch:  # enough in hand: wait for sends to finish
                        self.room.clear()
                        await first(stop.wait(), self.room.wait(), within=self.poll_seconds)
                        continue
                    due.clear()
                    try:
                        claimed = await self.deliverer.claim(room)
                    except (SQLAlchemyError, OSError) as exc:
                        log.warning("webhooks.claim_failed", error=f"{type(exc).__name__}: {exc}")
                        claimed = []
                    except Exception:
                        log.exception("webhooks.claim_failed")
                        claimed = []
                    for delivery in claimed:
                        self._start(delivery)
                    if len(claimed) < room:  # none left due: sleep until woken
                        await first(stop.wait(), due.wait(), within=self.poll_seconds)
            await recorder

    def _start(self, delivery: Claimed) -> None:
        task = asyncio.ensure_future(self._send(delivery))
        self.in_hand.add(task)
        task.add_done_callback(self._sent)

    async def _send(self, delivery: Claimed) -> None:
        async with self.sending:
            result = await self.deliverer.send(delivery)
        self.results.append(result)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self.in_hand.discard(task)
        if self.capacity - len(self.in_hand) >= self.batch:
            self.room.set()
        if len(self.results) >= self.batch or not self.in_hand:
            self.unrecorded.set()

    async def _record_until(self, stop: asyncio.Event) -> None:
        """Record finished sends, as many per transaction as there are, until ``stop``
        is set; then once more when the last sends are in (if that fails, the leases
        run out and the deliveries are sent again)."""
        while not stop.is_set():
            self.unrecorded.clear()
            if self.in_hand and len(self.results) < self.batch:  # let the batch fill
                await first(stop.wait(), self.unrecorded.wait(), within=LINGER)
                self.unrecorded.clear()
            if not await self._record():
                await first(stop.wait(), within=self.poll_seconds)
            elif not self.results:
                await first(stop.wait(), self.unrecorded.wait(), within=self.poll_seconds)
        while self.in_hand:
            await asyncio.wait(self.in_hand)
        await self._record()

    async def _record(self) -> bool:
        """Record the results so far; whether that worked (or there were none)."""
        batch, self.results = self.results, []
        if not batch:
            return True
        try:
            await self.deliverer.record(batch)
        except Exception as exc:  # the database, most likely: kept and tried again
            log.warning(
                "webhooks.record_failed", attempts=len(batch), error=f"{type(exc).__name__}: {exc}"
            )
            self.results = batch + self.results  # their leases hold them meanwhile
            return False
        return True
