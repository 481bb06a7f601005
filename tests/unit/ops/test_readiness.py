"""The readiness registry: concurrent checks, per-check timeouts, a one-second cache."""

from __future__ import annotations

import asyncio
import time

import pytest

from bastion.ops.health import CheckFailed, Readiness

pytestmark = [pytest.mark.ops]


class Probe:
    """A check that counts its runs and can be made slow or failing."""

    def __init__(self, delay: float = 0.0, error: Exception | None = None) -> None:
        self.delay, self.error, self.calls = delay, error, 0

    async def __call__(self) -> None:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error


async def test_checks_run_concurrently_each_with_its_timeout() -> None:
    readiness = Readiness(default_timeout=5.0)
    readiness.add("slow_a", Probe(delay=0.3))
    readiness.add("slow_b", Probe(delay=0.3))
    readiness.add("hung", Probe(delay=60), timeout=0.2)
    started = time.monotonic()
    report = await readiness.report()
    elapsed = time.monotonic() - started
    assert report == {
        "slow_a": {"status": "pass"},
        "slow_b": {"status": "pass"},
        "hung": {"status": "fail", "error": "timed out after 0.2s"},
    }
    assert elapsed < 0.55  # together, not one after the other


async def test_failures_show_their_verdict_or_only_their_type() -> None:
    readiness = Readiness(default_timeout=1.0)
    readiness.add("broker", Probe(error=CheckFailed("queue depth 90000 over 10000")))
    readiness.add("cache", Probe(error=ConnectionError("redis://:secret@10.0.0.5")))
    report = await readiness.report()
    assert report["broker"] == {"status": "fail", "error": "queue depth 90000 over 10000"}
    assert report["cache"] == {"status": "fail", "error": "ConnectionError"}


async def test_results_are_cached_for_a_second_and_shared_by_concurrent_probes() -> None:
    probe = Probe(delay=0.1)
    readiness = Readiness(default_timeout=1.0, cache_seconds=0.5)
    readiness.add("database", probe)
    reports = await asyncio.gather(*(readiness.report() for _ in range(20)))
    assert probe.calls == 1
    assert all(r == {"database": {"status": "pass"}} for r in reports)
    await readiness.report()
    assert probe.calls == 1
    await asyncio.sleep(0.55)
    await readiness.report()
    assert probe.calls == 2
    assert Readiness(default_timeout=1.0).cache_seconds == 1.0


async def test_a_cancelled_prober_does_not_cancel_the_round() -> None:
    probe = Probe(delay=0.2)
    readiness = Readiness(default_timeout=1.0)
    readiness.add("database", probe)
    first = asyncio.create_task(readiness.report())
    await asyncio.sleep(0.05)
    second = asyncio.create_task(readiness.report())
    await asyncio.sleep(0.01)
    first.cancel()
    assert await second == {"database": {"status": "pass"}}
    assert probe.calls == 1


async def test_draining_fails_at_once_without_running_checks() -> None:
    probe = Probe()
    readiness = Readiness(default_timeout=1.0)
    readiness.add("database", probe)
    readiness.draining = True
    report = await readiness.report()
    assert report["shutdown"]["status"] == "fail"
    assert probe.calls == 0


def test_names_are_unique() -> None:
    readiness = Readiness(default_timeout=1.0)
    readiness.add("database", Probe())
    with pytest.raises(ValueError, match="database"):
        readiness.add("database", Probe())
