"""``bastion outbox`` and ``bastion idempotency`` against the taskboard, as subprocesses."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time

import pytest
from sqlalchemy import create_engine, text

from examples.taskboard.app import build
from tests.conftest import FAST_HASHING, make_settings
from tests.e2e.test_cli import BASTION, REPO_ROOT, bastion
from tests.signin import sign_in_to_new_org

pytestmark = [pytest.mark.cli, pytest.mark.concurrency]


def pending(url: str) -> int:
    engine = create_engine(url.replace("+aiosqlite", ""))
    with engine.connect() as connection:
        count = connection.execute(
            text("SELECT count(*) FROM bastion_outbox WHERE status = 'pending'")
        ).scalar_one()
    engine.dispose()
    return int(count)


async def test_relay_status_and_purge_commands(sqlite_url, client_for):
    assert bastion("db", "upgrade", database_url=sqlite_url).returncode == 0
    app = build(make_settings(sqlite_url, idempotency={"ttl_seconds": 0.5}, **FAST_HASHING))
    client = await client_for(app, migrate=False)
    await sign_in_to_new_org(client)
    project = (await client.post("/projects", json={"name": "cli"})).json()["id"]
    for title in ("a", "b"):
        key = {"Idempotency-Key": title}
        await client.post(f"/projects/{project}/tasks", json={"title": title}, headers=key)

    status = bastion("outbox", "status", database_url=sqlite_url)
    assert status.returncode == 0, status.stderr
    # Two task.created events, and the webhook events of the project and the tasks.
    sent = int(re.search(r"pending: (\d+)", status.stdout).group(1))
    assert sent >= 2
    for _ in range(sent):
        once = bastion("outbox", "relay", "--once", database_url=sqlite_url)
        assert once.returncode == 0, once.stderr
        assert "relayed a batch of" in once.stdout
        if "pending: 0" in bastion("outbox", "status", database_url=sqlite_url).stdout:
            break
    else:
        raise AssertionError("relay --once never emptied the outbox")

    kept = bastion("outbox", "purge", database_url=sqlite_url)
    assert "deleted 0 sent message(s)" in kept.stdout
    purged = bastion(
        "outbox", "purge", database_url=sqlite_url, BASTION_OUTBOX__RETENTION_SECONDS="0.001"
    )
    assert f"deleted {sent} sent message(s)" in purged.stdout

    await asyncio.sleep(0.6)  # the idempotency keys' TTL
    keys = bastion("idempotency", "purge", database_url=sqlite_url)
    assert keys.returncode == 0, keys.stderr
    assert "deleted 2 expired key(s)" in keys.stdout


async def test_relay_runs_until_sigterm(sqlite_url, client_for):
    assert bastion("db", "upgrade", database_url=sqlite_url).returncode == 0
    client = await client_for(build(make_settings(sqlite_url, **FAST_HASHING)), migrate=False)
    await sign_in_to_new_org(client)
    project = (await client.post("/projects", json={"name": "cli"})).json()["id"]
    await client.post(f"/projects/{project}/tasks", json={"title": "t"})
    relay = subprocess.Popen(
        [str(BASTION), "outbox", "relay"],
        cwd=REPO_ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("BASTION_")},
            "BASTION_APP": "examples.taskboard.app:app",
            "BASTION_ENV": "test",
            "BASTION_DATABASE_URL": sqlite_url,
            "BASTION_OUTBOX__POLL_SECONDS": "0.1",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while pending(sqlite_url):
            assert relay.poll() is None, relay.stdout.read() if relay.stdout else ""
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
    finally:
        relay.send_signal(signal.SIGTERM)
        output, _ = relay.communicate(timeout=30)
    assert relay.returncode == 0, output
    assert "task.created" in output
    assert "outbox.relay_stopped" in output
