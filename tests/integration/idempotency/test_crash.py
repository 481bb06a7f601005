"""A process killed in the middle of a keyed request: its key is free after the lease."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.integration.idempotency.app import build

pytestmark = pytest.mark.concurrency
ROOT = Path(__file__).resolve().parents[3]
LEASE = 1.0


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def options(request, redis_prefix) -> dict[str, object]:
    name = request.param
    database = request.getfixturevalue("postgres_url" if name == "postgres" else "sqlite_url")
    values: dict[str, object] = {
        "database_url": database,
        "ratelimit": {"enabled": False},
        "idempotency": {"backend": "sql", "lease_seconds": LEASE},
    }
    if name == "redis":
        values["redis_url"] = request.getfixturevalue("redis_url")
        values["idempotency"] = {
            "backend": "redis",
            "lease_seconds": LEASE,
            "key_prefix": redis_prefix,
        }
    return values


async def test_a_killed_process_frees_its_key_after_the_lease(options, client_for, redis_prefix):
    prefix = redis_prefix
    calls: Counter[str] = Counter()
    client = await client_for(build(make_settings(**options), calls))  # migrates
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.idempotency.crashing_client",
            json.dumps(options),
            "crash",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), timeout=60)
        assert line.strip() == "running"
    finally:
        process.kill()
        process.wait()
    url = "/fragile?mode=ok"  # another query string: another request
    same = "/fragile?mode=hang-first"
    held = await client.post(same, headers={"Idempotency-Key": "crash"})
    assert held.status_code == 409
    assert held.json()["code"] == "idempotency.in_progress"
    mismatch = await client.post(url, headers={"Idempotency-Key": "crash"})
    assert mismatch.status_code == 422
    await asyncio.sleep(LEASE + 0.3)
    calls["fragile"] = 1  # this process's first call would hang; the retry must run
    retried = await client.post(same, headers={"Idempotency-Key": "crash"})
    assert retried.status_code == 200
    assert "idempotent-replayed" not in retried.headers
    replay = await client.post(same, headers={"Idempotency-Key": "crash"})
    assert replay.headers["idempotent-replayed"] == "true"
    redis = client._transport.app.state.bastion.redis  # type: ignore[attr-defined]
    if redis is not None:
        await redis.delete(*[k async for k in redis.scan_iter(match=f"{prefix}*")])
