"""The HIBP breach checker against a real range API server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from bastion import ManualClock
from bastion.core.http import HttpClient
from bastion.security.breach import HibpBreachChecker
from bastion.security.errors import BreachCheckUnavailable, PasswordBreached
from bastion.security.policy import PasswordPolicy
from bastion.security.settings import SecuritySettings
from tests.integration.conftest import ServeHttp

pytestmark = pytest.mark.security

BREACHED = {"hunter2 but longer": 42, "correct horse battery staple": 3}
# Known to the server only as a padding row (count 0): not breached.
PADDED = "padded but never breached"


def _sha1(password: str) -> str:
    return hashlib.sha1(password.encode()).hexdigest().upper()


@dataclass
class RangeApi:
    """A Pwned Passwords range API: ``mode`` is ok, slow, down or garbage."""

    mode: str = "ok"
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        prefix = request.match_info["prefix"]
        self.requests.append((prefix, request.headers.get("Add-Padding")))
        if self.mode == "slow":
            await asyncio.sleep(2)
        if self.mode == "down":
            return web.Response(status=503)
        if self.mode == "garbage":
            return web.Response(text="<html>maintenance</html>")
        lines = [f"{_sha1(p)[5:]}:{n}" for p, n in BREACHED.items() if _sha1(p)[:5] == prefix]
        if _sha1(PADDED)[:5] == prefix:
            lines.append(f"{_sha1(PADDED)[5:]}:0")
        lines += [f"{'0' * 34}{i}:0" for i in range(5)]  # padding rows
        return web.Response(text="\r\n".join(lines))


@pytest.fixture
async def api(serve_http: ServeHttp) -> tuple[RangeApi, str]:
    range_api = RangeApi()
    app = web.Application()
    app.router.add_get("/range/{prefix}", range_api.handle)
    return range_api, await serve_http(app)


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    client = HttpClient(backoff=0)
    yield client
    await client.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 1, tzinfo=UTC))


def _checker(
    http: HttpClient, base: str, clock: ManualClock, **options: object
) -> HibpBreachChecker:
    return HibpBreachChecker(http, base_url=base, clock=clock, timeout=0.3, **options)  # type: ignore[arg-type]


async def test_counts_breached_passwords_sending_only_a_padded_prefix(api, http, clock) -> None:
    range_api, base = api
    checker = _checker(http, base, clock)
    assert await checker.breach_count("hunter2 but longer") == 42
    assert await checker.breach_count("correct horse battery staple") == 3
    assert await checker.breach_count("a password nobody ever used 8f3k") == 0
    assert await checker.breach_count(PADDED) == 0
    sent = [prefix for prefix, _ in range_api.requests]
    assert sent[0] == _sha1("hunter2 but longer")[:5]
    assert all(len(p) == 5 and p == p.upper() for p in sent)
    assert all(padding == "true" for _, padding in range_api.requests)


async def test_answers_are_cached_per_prefix_until_the_ttl(api, http, clock) -> None:
    range_api, base = api
    checker = _checker(http, base, clock, cache_ttl=60)
    for _ in range(3):
        assert await checker.breach_count("hunter2 but longer") == 42
    assert len(range_api.requests) == 1
    clock.advance(seconds=61)
    assert await checker.breach_count("hunter2 but longer") == 42
    assert len(range_api.requests) == 2


async def test_the_cache_is_bounded(api, http, clock) -> None:
    range_api, base = api
    checker = _checker(http, base, clock, cache_size=1)
    await checker.breach_count("hunter2 but longer")
    await checker.breach_count("correct horse battery staple")  # evicts the first prefix
    await checker.breach_count("correct horse battery staple")
    await checker.breach_count("hunter2 but longer")
    assert len(range_api.requests) == 3


@pytest.mark.parametrize("mode", ["slow", "down", "garbage"])
async def test_an_outage_fails_open_with_a_warning(api, http, clock, mode) -> None:
    range_api, base = api
    range_api.mode = mode
    checker = _checker(http, base, clock)
    with capture_logs() as logs:
        assert await checker.breach_count("hunter2 but longer") == 0
    assert [e["event"] for e in logs] == ["password.breach_check_unavailable"]
    assert logs[0]["log_level"] == "warning"
    # Failures are not cached: the next check asks again.
    range_api.mode = "ok"
    assert await checker.breach_count("hunter2 but longer") == 42


@pytest.mark.parametrize("mode", ["slow", "down", "garbage"])
async def test_an_outage_fails_closed_when_told(api, http, clock, mode) -> None:
    range_api, base = api
    range_api.mode = mode
    checker = _checker(http, base, clock, fail_open=False)
    with pytest.raises(BreachCheckUnavailable) as caught:
        await checker.breach_count("hunter2 but longer")
    assert caught.value.status == 503
    assert caught.value.code == "password.breach_check_unavailable"
    assert len(range_api.requests) == 1  # no retry within the 2 s budget


@pytest.mark.parametrize("fail_open", [True, False])
async def test_a_refused_connection_is_an_outage(http, clock, fail_open) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    checker = _checker(http, base, clock, fail_open=fail_open)
    if fail_open:
        assert await checker.breach_count("anything at all") == 0
    else:
        with pytest.raises(BreachCheckUnavailable, match=r"upstream\.unavailable"):
            await checker.breach_count("anything at all")


async def test_the_policy_refuses_breached_passwords(api, http, clock) -> None:
    _, base = api
    policy = PasswordPolicy(breach_checker=_checker(http, base, clock))
    with pytest.raises(PasswordBreached):
        await policy.validate("correct horse battery staple")
    await policy.validate("a password nobody ever used 8f3k")


async def test_from_settings(api, http, clock) -> None:
    range_api, base = api
    settings = SecuritySettings(
        hibp_base_url=base + "/", hibp_fail_open=False, hibp_cache_seconds=0
    )
    checker = HibpBreachChecker.from_settings(settings, http, clock=clock)
    assert await checker.breach_count("hunter2 but longer") == 42
    assert await checker.breach_count("hunter2 but longer") == 42
    assert len(range_api.requests) == 2  # a TTL of 0 caches nothing
    range_api.mode = "down"
    with pytest.raises(BreachCheckUnavailable):
        await checker.breach_count("hunter2 but longer")
