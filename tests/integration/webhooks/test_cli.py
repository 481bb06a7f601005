"""``bastion webhooks`` against the taskboard, as subprocesses."""

from __future__ import annotations

import asyncio
import time

import pytest
from typer.testing import CliRunner

from bastion.cli.main import app as cli
from bastion.webhooks.signing import new_secret, signed_headers
from examples.taskboard.app import build
from tests.e2e.test_cli import bastion
from tests.integration.webhooks.conftest import taskboard_settings
from tests.signin import sign_in_to_new_org

pytestmark = [pytest.mark.cli, pytest.mark.webhooks]


async def test_endpoints_attempts_and_retry(sqlite_url, client_for, receiver):
    settings = taskboard_settings(sqlite_url)
    client = await client_for(build(settings))
    org = await sign_in_to_new_org(client)
    created = await client.post(
        "/webhooks/endpoints", json={"url": receiver.url, "event_types": ["project.created"]}
    )
    endpoint_id = created.json()["id"]
    await client.post("/projects", json={"name": "cli"})
    await receiver.wait_for(1)
    for _ in range(200):  # under load, the last attempt may take a while
        items = (await client.get(f"/webhooks/endpoints/{endpoint_id}/attempts")).json()["items"]
        if items:
            break
        await asyncio.sleep(0.05)
    message_id = items[0]["message_id"]

    # In a thread: the app's loop goes on (a transaction of its dispatcher must not
    # hold SQLite's write lock while the command waits for it).
    listed = await asyncio.to_thread(
        bastion,
        "webhooks",
        "endpoints",
        "list",
        "--tenant",
        org,
        database_url=sqlite_url,
        COLUMNS="250",
    )
    assert listed.returncode == 0, listed.stderr
    assert endpoint_id[:8] in listed.stdout and "project.created" in listed.stdout
    attempts = await asyncio.to_thread(
        bastion, "webhooks", "attempts", endpoint_id, database_url=sqlite_url, COLUMNS="250"
    )
    assert attempts.returncode == 0, attempts.stderr
    assert "200" in attempts.stdout

    retried = await asyncio.to_thread(
        bastion, "webhooks", "retry", message_id, database_url=sqlite_url
    )
    assert retried.returncode == 0, retried.stderr
    assert "requeued 0 deliveries" in retried.stdout  # it was delivered: nothing to re-send


def test_verify_reads_a_raw_request():
    secret = new_secret()
    body = b'{"id":"msg_9"}'
    headers = signed_headers("msg_9", int(time.time()), body, [secret])
    request = "POST /hooks HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    raw = request.encode() + b"\r\n" + body

    runner = CliRunner()
    ok = runner.invoke(cli, ["webhooks", "verify", "--secret", secret], input=raw)
    assert ok.exit_code == 0, ok.output
    assert "valid: message msg_9" in ok.stdout
    bad = runner.invoke(cli, ["webhooks", "verify", "--secret", new_secret()], input=raw)
    assert bad.exit_code == 1
    assert "webhook.invalid_signature" in bad.stderr
