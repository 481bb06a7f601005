"""Declaring tasks and schedules, backoff arithmetic, settings checks, cron tick maths."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from bastion import ConfigurationError
from bastion.jobs import CronSchedule, Empty, JobQueue, JobsRegistry, MemoryJobStore, Scheduler
from bastion.jobs.backoff import exponential
from bastion.jobs.errors import UnknownTask
from tests.conftest import make_settings

pytestmark = pytest.mark.jobs


class Payload(BaseModel):
    n: int


def test_backoff_doubles_up_to_the_ceiling_with_equal_jitter() -> None:
    fixed = exponential(base=2, max=60, jitter=False)
    assert [fixed.delay(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    rng = random.Random(7)
    jittered = exponential(base=2, max=60)
    for attempt in range(1, 10):
        ceiling = fixed.delay(attempt)
        assert ceiling / 2 <= jittered.delay(attempt, rng) <= ceiling


def test_task_declaration_is_checked() -> None:
    jobs = JobsRegistry()

    @jobs.task(name="renamed", retries=0, priority=3)
    async def handler(payload: Payload) -> None: ...

    assert (handler.name, handler.max_attempts, handler.priority) == ("renamed", 1, 3)
    with pytest.raises(ConfigurationError, match="registered twice"):
        jobs.task(name="renamed")(handler.handler)
    with pytest.raises(ConfigurationError, match="async function"):
        jobs.task()(lambda payload: None)  # type: ignore[arg-type,return-value]

    async def untyped(payload) -> None: ...  # type: ignore[no-untyped-def]

    with pytest.raises(ConfigurationError, match="pydantic model"):
        jobs.task()(untyped)
    with pytest.raises(UnknownTask):
        jobs.lookup("missing")


def test_cron_schedules_are_validated() -> None:
    with pytest.raises(ConfigurationError, match="invalid expression"):
        CronSchedule("bad", "every minute", "task")
    with pytest.raises(Exception, match="Mars"):
        CronSchedule("zone", "* * * * *", "task", timezone="Mars/Olympus")


def test_schedule_file(tmp_path) -> None:
    jobs = JobsRegistry()

    @jobs.task()
    async def report(payload: Empty) -> None: ...

    good = tmp_path / "good.yaml"
    good.write_text("daily:\n  cron: '0 6 * * *'\n  task: report\n")
    jobs.load_schedule_file(good)
    assert jobs.schedules["daily"] == CronSchedule("daily", "0 6 * * *", "report")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("x:\n  cron: '0 6 * * *'\n  task: nope\n")
    with pytest.raises(UnknownTask):
        jobs.load_schedule_file(unknown)
    partial = tmp_path / "partial.yaml"
    partial.write_text("x:\n  task: report\n")
    with pytest.raises(ConfigurationError, match="needs 'cron' and 'task'"):
        jobs.load_schedule_file(partial)


def test_settings_checks() -> None:
    assert [m.id for m in make_settings("sqlite://", jobs={"backend": "redis"}).checks()] == [
        "jobs.E001"
    ]
    slow_beat = make_settings("sqlite://", jobs={"lease_seconds": 5, "heartbeat_seconds": 5})
    assert [m.id for m in slow_beat.checks()] == ["jobs.E002"]
    queues = make_settings("sqlite://", jobs={"queues": "mail, default"})
    assert queues.jobs.queues == ["mail", "default"]
    assert queues.jobs.embedded(development=True) and not queues.jobs.embedded(development=False)


def test_latest_tick_in_the_schedule_timezone() -> None:
    jobs = JobsRegistry()
    scheduler = Scheduler(JobQueue(MemoryJobStore(), jobs))
    paris = CronSchedule("morning", "0 9 * * *", "t", timezone="Europe/Paris")
    # 2026-03-29: Paris moves to summer time; 09:00 there is 07:00 UTC.
    tick = scheduler.latest_tick(paris, datetime(2026, 3, 29, 7, 30, tzinfo=UTC))
    assert tick.astimezone(UTC) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    exact = CronSchedule("five", "*/5 * * * *", "t")
    at = datetime(2026, 3, 2, 9, 5, tzinfo=UTC)
    assert scheduler.latest_tick(exact, at) == at  # a tick exactly now is due


async def test_enqueue_validates_its_arguments() -> None:
    jobs = JobsRegistry()

    @jobs.task()
    async def work(payload: Payload) -> None: ...

    queue = JobQueue(MemoryJobStore(), jobs)
    job_id = await queue.enqueue("work", {"n": 1})  # a dict is validated into the model
    assert (await queue.get(job_id)).payload == '{"n":1}'
    with pytest.raises(ValueError, match="priority"):
        await queue.enqueue(work, Payload(n=1), priority=5000)
    with pytest.raises(ValueError, match="aware"):
        await queue.enqueue(work, Payload(n=1), run_at=datetime(2026, 1, 1))
