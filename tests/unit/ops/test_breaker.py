"""The circuit breaker: tripping, failing fast, half-open trials and recovery."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import structlog
from fastapi import APIRouter
from structlog.testing import capture_logs

from bastion import ManualClock, create_app, registered_codes
from bastion.ops import breaker as breaker_module
from bastion.ops.breaker import BreakerState, CircuitBreaker, CircuitOpen
from bastion.ops.metrics import Metrics
from tests.conftest import make_settings

pytestmark = pytest.mark.ops


class Boom(Exception):
    pass


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 1, tzinfo=UTC))


def make(clock: ManualClock, **options: object) -> CircuitBreaker:
    defaults: dict[str, object] = {
        "failure_ratio": 0.5,
        "minimum_calls": 4,
        "window_seconds": 10,
        "open_seconds": 30,
        "half_open_calls": 2,
    }
    defaults.update(options)
    return CircuitBreaker("payments", clock=clock, **defaults)  # type: ignore[arg-type]


async def ok() -> str:
    return "ok"


async def fail() -> None:
    raise Boom


async def outcomes(breaker: CircuitBreaker, *, good: int = 0, bad: int = 0) -> None:
    for _ in range(good):
        await breaker.call(ok)
    for _ in range(bad):
        with pytest.raises(Boom):
            await breaker.call(fail)


async def trip(breaker: CircuitBreaker) -> None:
    await outcomes(breaker, bad=breaker.minimum_calls)
    assert breaker.state is BreakerState.OPEN


# -- closed -> open ----------------------------------------------------------------


async def test_trips_when_the_failure_ratio_is_reached_with_enough_calls(clock):
    breaker = make(clock)
    await outcomes(breaker, good=2, bad=1)
    assert breaker.state is BreakerState.CLOSED  # 3 calls: under the minimum
    await outcomes(breaker, bad=1)  # 2 of 4 failed: ratio 0.5
    assert breaker.state is BreakerState.OPEN


async def test_below_the_minimum_volume_never_trips(clock):
    breaker = make(clock, minimum_calls=20)
    await outcomes(breaker, bad=19)
    assert breaker.state is BreakerState.CLOSED


async def test_a_ratio_under_the_threshold_does_not_trip(clock):
    breaker = make(clock)
    await outcomes(breaker, good=30, bad=29)
    assert breaker.state is BreakerState.CLOSED


async def test_old_outcomes_leave_the_window(clock):
    breaker = make(clock, window_seconds=10)
    await outcomes(breaker, bad=3)
    clock.advance(seconds=10)  # those 3 failures are now out of the window
    await outcomes(breaker, good=2, bad=1)
    assert breaker.state is BreakerState.CLOSED
    clock.advance(seconds=9)  # these 3 calls are still in it
    await outcomes(breaker, bad=1)
    assert breaker.state is BreakerState.OPEN


async def test_the_window_keeps_one_bucket_per_second(clock):
    breaker = make(clock, window_seconds=5, minimum_calls=10_000)
    for _ in range(100):
        await outcomes(breaker, good=3)
        clock.advance(seconds=1)
    assert len(breaker._window._buckets) <= 5
    assert breaker._window.calls == 15


# -- open ----------------------------------------------------------------------------


async def test_open_fails_fast_with_the_problem_and_retry_after(clock):
    breaker = make(clock, open_seconds=30)
    await trip(breaker)
    called = False

    async def dependency() -> None:
        nonlocal called
        called = True

    clock.advance(seconds=10.5)
    with pytest.raises(CircuitOpen) as caught:
        await breaker.call(dependency)
    assert not called
    error = caught.value
    assert (error.code, error.status, error.title) == ("ops.circuit_open", 503, "Circuit open")
    assert error.headers == {"Retry-After": "20"}
    assert "payments" in str(error.detail)
    assert registered_codes()["ops.circuit_open"].status == 503


async def test_an_app_answers_503_problem_while_open(client_for, sqlite_url, clock):
    breaker = make(clock)
    router = APIRouter()

    @router.get("/pay")
    @breaker
    async def pay() -> dict[str, str]:
        raise Boom

    app = create_app(make_settings(sqlite_url), routers=[router])
    client = await client_for(app, migrate=False)
    for _ in range(4):
        assert (await client.get("/pay")).status_code == 500
    response = await client.get("/pay")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.json()["code"] == "ops.circuit_open"


# -- half-open -----------------------------------------------------------------------


async def test_half_open_after_open_seconds(clock):
    breaker = make(clock, open_seconds=30)
    await trip(breaker)
    clock.advance(seconds=29)
    assert breaker.state is BreakerState.OPEN
    clock.advance(seconds=1)
    assert breaker.state is BreakerState.HALF_OPEN


async def test_half_open_admits_only_the_trial_calls(clock):
    breaker = make(clock, half_open_calls=2)
    await trip(breaker)
    clock.advance(seconds=30)
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "ok"

    trials = [asyncio.create_task(breaker.call(slow)) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpen) as caught:
        await breaker.call(ok)
    assert caught.value.headers["Retry-After"] == "1"
    release.set()
    assert await asyncio.gather(*trials) == ["ok", "ok"]
    assert breaker.state is BreakerState.CLOSED


async def test_successful_trials_close_and_clear_the_window(clock):
    breaker = make(clock, half_open_calls=2)
    await trip(breaker)
    clock.advance(seconds=30)
    await outcomes(breaker, good=1)
    assert breaker.state is BreakerState.HALF_OPEN
    await outcomes(breaker, good=1)
    assert breaker.state is BreakerState.CLOSED
    await outcomes(breaker, bad=3)  # the failures before opening no longer count
    assert breaker.state is BreakerState.CLOSED


async def test_a_failed_trial_opens_again(clock):
    breaker = make(clock, open_seconds=30)
    await trip(breaker)
    clock.advance(seconds=30)
    await outcomes(breaker, good=1, bad=1)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen) as caught:
        await breaker.call(ok)
    assert caught.value.headers["Retry-After"] == "30"


async def test_a_call_from_before_opening_is_no_trial(clock):
    breaker = make(clock, half_open_calls=1)
    release = asyncio.Event()

    async def slow() -> None:
        await release.wait()
        raise Boom

    late = asyncio.create_task(breaker.call(slow))
    await asyncio.sleep(0)
    await trip(breaker)
    clock.advance(seconds=30)
    assert breaker.state is BreakerState.HALF_OPEN
    release.set()
    with pytest.raises(Boom):
        await late
    assert breaker.state is BreakerState.HALF_OPEN
    await outcomes(breaker, good=1)
    assert breaker.state is BreakerState.CLOSED


# -- the forms of a guarded call -----------------------------------------------------


async def test_decorator(clock):
    breaker = make(clock)

    @breaker
    async def charge(amount: int, *, currency: str) -> str:
        if amount < 0:
            raise Boom
        return f"{amount} {currency}"

    assert await charge(5, currency="EUR") == "5 EUR"
    assert charge.__name__ == "charge"
    for _ in range(3):  # 3 of 4 calls failed
        with pytest.raises(Boom):
            await charge(-1, currency="EUR")
    with pytest.raises(CircuitOpen):
        await charge(5, currency="EUR")


async def test_context_manager(clock):
    breaker = make(clock)
    for _ in range(4):
        with pytest.raises(Boom):
            async with breaker:
                raise Boom
    with pytest.raises(CircuitOpen):
        async with breaker:
            pytest.fail("an open breaker ran the block")


async def test_nested_blocks_in_one_task(clock):
    breaker = make(clock, minimum_calls=2)
    async with breaker:
        with pytest.raises(Boom):
            async with breaker:
                raise Boom
    assert (breaker._window.calls, breaker._window.failures) == (2, 1)
    assert breaker.state is BreakerState.OPEN


async def test_is_failure_decides_what_counts(clock):
    class NotFound(Exception):
        pass

    breaker = make(clock, is_failure=lambda exc: not isinstance(exc, NotFound))

    async def missing() -> None:
        raise NotFound

    for _ in range(10):
        with pytest.raises(NotFound):
            await breaker.call(missing)
    assert breaker.state is BreakerState.CLOSED
    assert (breaker._window.calls, breaker._window.failures) == (10, 0)


async def test_cancellation_is_not_a_failure(clock):
    breaker = make(clock)
    for _ in range(6):
        task = asyncio.create_task(breaker.call(asyncio.sleep, 60))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert breaker.state is BreakerState.CLOSED
    assert breaker._window.calls == 0


async def test_a_cancelled_trial_frees_its_place(clock):
    breaker = make(clock, half_open_calls=1)
    await trip(breaker)
    clock.advance(seconds=30)
    task = asyncio.create_task(breaker.call(asyncio.sleep, 60))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.state is BreakerState.HALF_OPEN
    await outcomes(breaker, good=1)
    assert breaker.state is BreakerState.CLOSED


# -- what it tells -------------------------------------------------------------------


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"name": "payments", **labels})


async def test_metrics_follow_the_state(clock):
    metrics = Metrics()
    breaker = make(clock, metrics=metrics, half_open_calls=1)
    assert sample(metrics, "bastion_circuit_breaker_state") == 0
    await trip(breaker)
    assert sample(metrics, "bastion_circuit_breaker_state") == 2
    clock.advance(seconds=30)
    assert breaker.state is BreakerState.HALF_OPEN
    assert sample(metrics, "bastion_circuit_breaker_state") == 1
    await outcomes(breaker, bad=1)
    clock.advance(seconds=30)
    await outcomes(breaker, good=1)
    assert sample(metrics, "bastion_circuit_breaker_state") == 0
    transitions = "bastion_circuit_breaker_transitions_total"
    assert sample(metrics, transitions, to_state="open") == 2
    assert sample(metrics, transitions, to_state="half_open") == 2
    assert sample(metrics, transitions, to_state="closed") == 1


async def test_state_changes_are_logged(clock, monkeypatch):
    # The module's logger may be cached under an earlier configuration (the app's
    # cache_logger_on_first_use); a fresh one follows capture_logs.
    monkeypatch.setattr(breaker_module, "log", structlog.get_logger("bastion.ops.breaker"))
    breaker = make(clock)
    with capture_logs() as logs:
        await trip(breaker)
    changes = [entry for entry in logs if entry["event"] == "breaker.state_changed"]
    assert len(changes) == 1
    assert changes[0]["breaker"] == "payments"
    assert (changes[0]["from_state"], changes[0]["to_state"]) == ("closed", "open")
    assert changes[0]["log_level"] == "warning"


@pytest.mark.parametrize(
    "options",
    [
        {"failure_ratio": 0},
        {"failure_ratio": 1.5},
        {"minimum_calls": 0},
        {"window_seconds": 0},
        {"window_seconds": 1.5},
        {"open_seconds": 0},
        {"half_open_calls": 0},
    ],
)
def test_bad_options_are_refused(clock, options):
    with pytest.raises(ValueError, match=next(iter(options))):
        make(clock, **options)
