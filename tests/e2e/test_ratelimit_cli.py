"""``bastion ratelimit inspect|reset`` against the taskboard app on Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bastion.core.redis import open_redis
from bastion.ratelimit import RedisRateLimitStore, parse_limits
from tests.conftest import TEST_SECRET

pytestmark = [pytest.mark.ratelimit, pytest.mark.cli, pytest.mark.redis]
ROOT = Path(__file__).resolve().parents[2]
BASTION = Path(sys.executable).parent / "bastion"


def bastion(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BASTION), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def env(tmp_path, redis_url, redis_prefix) -> dict[str, str]:
    return {
        **os.environ,
        "BASTION_APP": "examples.taskboard.app:app",
        "BASTION_ENV": "test",
        "BASTION_SECRET_KEY": TEST_SECRET,
        "BASTION_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "BASTION_REDIS_URL": redis_url,
        "BASTION_RATELIMIT__KEY_PREFIX": redis_prefix,
        "BASTION_RATELIMIT__DEFAULT": "5/minute",
    }


async def test_inspect_then_reset_a_key(env, redis_url, redis_prefix):
    client = open_redis(redis_url)
    store = RedisRateLimitStore(client, prefix=redis_prefix)
    key = "default:ip:203.0.113.9"
    try:
        for _ in range(5):
            await store.hit(key, parse_limits("5/minute"), "gcra")

        inspected = bastion("ratelimit", "inspect", key, env=env)
        assert inspected.returncode == 0, inspected.stderr
        assert "limited: retry in" in inspected.stdout
        assert "5/60s" in inspected.stdout

        cleared = bastion("ratelimit", "reset", key, env=env)
        assert cleared.returncode == 0, cleared.stderr
        assert "removed 1 counter(s)" in cleared.stdout
        assert (await store.peek(key, parse_limits("5/minute"), "gcra")).states[0].remaining == 5
    finally:
        await store.reset(key)
        await client.aclose()


def test_memory_backend_refuses_with_a_clear_line(env):
    env = {**env, "BASTION_RATELIMIT__BACKEND": "memory"}
    result = bastion("ratelimit", "inspect", "default:ip:1.2.3.4", env=env)
    assert result.returncode == 1
    assert "error:" in result.stderr
    assert "BASTION_REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr
