"""Redis down or slow: the policy's fail mode decides, and recovery is automatic.

The test runs its own Redis on a free port so that it can stop and block it.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from fastapi import APIRouter, Depends

from bastion import create_app
from bastion.ratelimit import auth_rate_limit
from tests.conftest import IN_CI, make_settings

pytestmark = [pytest.mark.ratelimit, pytest.mark.redis]

router = APIRouter()


@router.get("/items")
async def items() -> list[str]:
    return []


@router.post("/login", dependencies=[Depends(auth_rate_limit("login"))])
async def login() -> dict[str, bool]:
    return {"ok": True}


class OwnRedis:
    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--enable-debug-command",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)
            self.process = None


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    server = OwnRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def client(client_for, sqlite_url, own_redis):
    settings = make_settings(
        sqlite_url,
        redis_url=own_redis.url,
        ratelimit={"default": "100/minute", "auth": "100/minute"},
    )
    return await client_for(create_app(settings, routers=[router]), migrate=False)


async def test_fail_open_and_closed_while_redis_is_down_then_recover(client, own_redis):
    assert "ratelimit" in (await client.get("/items")).headers
    assert (await client.post("/login")).status_code == 200

    own_redis.stop()
    down = await client.get("/items")
    assert down.status_code == 200  # general routes fail open
    assert "ratelimit" not in down.headers
    refused = await client.post("/login")
    assert refused.status_code == 503  # authentication fails closed
    assert refused.json()["code"] == "rate_limit.unavailable"
    assert refused.headers["retry-after"] == "1"

    own_redis.start()
    for _ in range(50):  # the pool reconnects by itself
        recovered = await client.get("/items")
        if "ratelimit" in recovered.headers:
            break
        await asyncio.sleep(0.1)
    assert "ratelimit" in recovered.headers
    assert (await client.post("/login")).status_code == 200

    metrics = (await client.get("/metrics")).text
    failed_open = re.search(r'outcome="failed_open",policy="default"\} (\d+)', metrics)
    assert failed_open is not None
    assert int(failed_open.group(1)) >= 1  # and more while Redis was coming back
    assert 'outcome="failed_closed",policy="auth:login"} 1.0' in metrics


async def test_slow_redis_times_out_into_the_fail_mode(client, own_redis):
    from redis.asyncio import Redis

    blocker = Redis.from_url(own_redis.url)
    try:
        started = time.monotonic()
        block = asyncio.create_task(blocker.execute_command("DEBUG", "SLEEP", "1"))
        await asyncio.sleep(0.1)
        slow = await client.get("/items")
        elapsed = time.monotonic() - started
        assert slow.status_code == 200
        assert "ratelimit" not in slow.headers
        assert elapsed < 0.9, "the decision must give up after its timeout, not wait for Redis"
        await block
    finally:
        await blocker.aclose()
    assert "ratelimit" in (await client.get("/items")).headers
