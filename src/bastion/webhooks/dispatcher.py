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
        self.senders = settings.concurrency
        self.batch = settings.batch_size
        self.capacity = 2 * settings.batch_size + settings.concurrency
        self.poll_seconds = settings.poll_seconds
        self.queue: asyncio.Queue[Claimed | None] = asyncio.Queue()
        self.in_hand = 0  # claimed and not yet sent
        self.results: list[Result] = []
        self.room = asyncio.Event()  # room for a batch
        self.unrecorded = asyncio.Event()  # a batch of results (or the last) to record

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then finish and record what is in hand.
        Errors of the database are logged and retried after ``poll_seconds``."""
        due = self.deliverer.due
        with bypass_tenancy("webhooks dispatcher: due deliveries of every tenant"):
            senders = [asyncio.ensure_future(self._sender()) for _ in range(self.senders)]
            recorder = asyncio.ensure_future(self._record_until(stop))
            async with listening(self.deliverer.db, CHANNEL, due):
                while not stop.is_set():
                    room = self.capacity - self.in_hand
                    if room < self.batch:  # enough in hand: wait for sends to finish
                        self.room.clear()
                        await first(stop.wait(), self.room.wait(), within=self.poll_seconds)
                        continue
                    due.clear()
                    claimed = await self._claim(room)
                    self.in_hand += len(claimed)
                    for delivery in claimed:
                        self.queue.put_nowait(delivery)
                    if len(claimed) < room:  # none left due: sleep until woken
                        await first(stop.wait(), due.wait(), within=self.poll_seconds)
            for _ in senders:
                self.queue.put_nowait(None)  # after the deliveries in hand
            await asyncio.gather(*senders)
            self.unrecorded.set()
            await recorder

    async def _claim(self, room: int) -> list[Claimed]:
        try:
            return await self.deliverer.claim(room)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("webhooks.claim_failed", error=f"{type(exc).__name__}: {exc}")
        except Exception:
            log.exception("webhooks.claim_failed")
        return []

    async def _sender(self) -> None:
        while (delivery := await self.queue.get()) is not None:
            result = await self.deliverer.send(delivery)
            self.results.append(result)  # (the recorder swaps the list meanwhile)
            if result.later is not None:  # over its endpoint's rate: look again then
                wait = (result.later - self.deliverer.clock.now()).total_seconds()
                loop = asyncio.get_running_loop()
                loop.call_later(max(0.0, wait) + LINGER * 2, self.deliverer.due.set)
            self.in_hand -= 1
            if self.capacity - self.in_hand >= self.batch:
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
        while self.in_hand:  # the senders finish what is in hand
            self.unrecorded.clear()
            await self.unrecorded.wait()
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
