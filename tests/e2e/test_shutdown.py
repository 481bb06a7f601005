"""SIGTERM on a real ``bastion serve``: readiness fails at once, the server drains, then stops."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.serving import ops_env, serving

pytestmark = [pytest.mark.e2e, pytest.mark.ops]

DRAIN = 1.5
SLOW = 4.0


def events(output: str) -> list[str]:
    found = []
    for line in output.splitlines():
        if line.startswith("{"):
            found.append(json.loads(line).get("event", ""))
    return found


def test_sigterm_fails_readiness_drains_and_finishes_in_flight(tmp_path: Path) -> None:
    env = ops_env(
        tmp_path,
        BASTION_SHUTDOWN__DRAIN_SECONDS=str(DRAIN),
        BASTION_SHUTDOWN__GRACE_SECONDS="20",
    )
    with serving(tmp_path, env) as served, served.client() as client:
        assert client.get("/readyz").status_code == 200
        slow: dict[str, httpx.Response] = {}

        def in_flight() -> None:
            with served.client() as own:
                slow["response"] = own.get("/slow", params={"seconds": SLOW})

        thread = threading.Thread(target=in_flight)
        thread.start()
        time.sleep(0.5)  # the slow request is in the app now
        signalled = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        time.sleep(0.2)

        # At once: not ready, with a reason; everything else is still served.
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["shutdown"]["status"] == "fail"
        assert client.get("/livez").status_code == 200
        with served.client() as fresh:  # a new connection is still accepted while draining
            assert fresh.get("/ping").status_code == 200

        # After the drain: new connections are refused, the slow request goes on.
        time.sleep(max(0.0, signalled + DRAIN + 0.5 - time.monotonic()))
        with served.client() as late, pytest.raises(httpx.ConnectError):
            late.get("/ping")
        assert served.process.poll() is None, "exited with a request in flight"

        thread.join(SLOW + 5)
        assert slow["response"].status_code == 200
        assert slow["response"].json() == {"slept": SLOW}
        served.process.wait(10)
        finished = time.monotonic() - signalled
        assert finished >= SLOW - 0.5

    seen = events(served.output())
    # Drain, stop accepting, then the lifespan's end closes the pools.
    order = ["shutdown.draining", "shutdown.stop_accepting", "app.stopped"]
    assert [event for event in seen if event in order] == order


def test_without_drain_sigterm_stops_at_once(tmp_path: Path) -> None:
    with serving(tmp_path, ops_env(tmp_path)) as served:
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(10)
    seen = events(served.output())
    assert "shutdown.draining" not in seen
    assert "app.stopped" in seen


def test_a_second_sigterm_cuts_the_drain_short(tmp_path: Path) -> None:
    env = ops_env(tmp_path, BASTION_SHUTDOWN__DRAIN_SECONDS="60")
    with serving(tmp_path, env) as served, served.client() as client:
        served.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert client.get("/readyz").status_code == 503
        signalled = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(10)
        assert time.monotonic() - signalled < 10
    seen = events(served.output())
    assert "shutdown.drain_cut_short" in seen
    assert "app.stopped" in seen
