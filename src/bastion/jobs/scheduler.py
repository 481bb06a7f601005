"""The cron scheduler: enqueues each tick of each schedule exactly once.

Any number of schedulers may run. For each schedule a scheduler computes the
latest tick due and asks the store to claim it (one atomic compare-and-set of
the schedule's last tick): exactly one scheduler wins and enqueues the job,
with the tick as its dedupe key. After downtime, the ticks missed collapse into
the latest one, which runs once (``catch_up="once"``) or not at all
(``"skip"``). A schedule seen for the first time starts from its current tick,
run only if it is recent. A scheduler that dies between the claim and the
enqueue loses that one tick.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog
from croniter import croniter

from bastion.jobs.registry import CronSchedule
from bastion.jobs.service import JobQueue

log = structlog.get_logger("bastion.jobs.scheduler")


class Scheduler:
    def __init__(
        self,
        queue: JobQueue,
        *,
        catch_up: str = "once",
        lateness: float = 60.0,
        interval: float = 1.0,
    ) -> None:
        self.queue = queue
        self.catch_up = catch_up
        self.lateness = lateness
        self.interval = interval

    def latest_tick(self, schedule: CronSchedule, now: datetime) -> datetime:
        local = now.astimezone(ZoneInfo(schedule.timezone))
        # A tick exactly at `now` is due: look back from just after it.
        tick: datetime = croniter(schedule.expression, local).get_prev(datetime)
        following: datetime = croniter(schedule.expression, tick).get_next(datetime)
        return following if following <= local else tick

    async def tick(self) -> list[str]:
        """Enqueue every schedule's due tick that no scheduler enqueued yet; the job ids."""
        now = self.queue.clock.now()
        enqueued = []
        for schedule in self.queue.registry.schedules.values():
            tick = self.latest_tick(schedule, now)
            stamp = tick.timestamp()
            claim = await self.queue.store.claim_tick(schedule.name, stamp)
            late = now.timestamp() - stamp > self.lateness
            if claim == "taken" or (late and (claim == "first" or self.catch_up == "skip")):
                continue
            job_id = await self.queue.enqueue(
                schedule.task, schedule.payload, dedupe_key=f"cron:{schedule.name}:{stamp:.0f}"
            )
            log.info("jobs.cron_enqueued", schedule=schedule.name, tick=tick.isoformat(), late=late)
            enqueued.append(job_id)
        return enqueued

    async def run(self, stop: asyncio.Event) -> None:
        log.info("jobs.scheduler_started", schedules=sorted(self.queue.registry.schedules))
        while not stop.is_set():
            try:
                await self.tick()
            except Exception as exc:  # the store is down: try again next round
                log.warning("jobs.scheduler_failed", error=repr(exc))
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except TimeoutError:
                continue
