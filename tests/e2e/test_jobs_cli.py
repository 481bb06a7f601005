"""``bastion worker --burst`` and ``bastion jobs ...`` as a user runs them, on SQLite."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import urllib.request
from pathlib import Path

import pytest

from bastion import Database
from bastion.jobs import JobQueue, SqlJobStore
from tests.e2e.jobs_app import Work, jobs
from tests.e2e.test_cli import assert_one_line_failure, bastion
from tests.e2e.test_jobs_nothing_lost import Workers

pytestmark = [pytest.mark.jobs, pytest.mark.cli]
APP = "tests.e2e.jobs_app:app"


def test_worker_dead_letters_and_cron_commands(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"

    def cli(*args: str):
        return bastion(
            *args, database_url=url, BASTION_APP=APP, BASTION_REDIS_URL="", COLUMNS="200"
        )

    assert cli("db", "upgrade").returncode == 0

    async def enqueue() -> list[str]:
        db = Database(url)
        try:
            queue = JobQueue(SqlJobStore(db), jobs)
            return [await queue.enqueue("explode", Work()) for _ in range(3)]
        finally:
            await db.dispose()

    ids = asyncio.run(enqueue())
    burst = cli("worker", "--burst")
    assert burst.returncode == 0, burst.stderr

    stats = cli("jobs", "stats")
    assert stats.returncode == 0
    (row,) = [line for line in stats.stdout.splitlines() if "default" in line]
    assert [cell.strip() for cell in row.split("│")[1:6]] == ["default", "0", "0", "0", "3"]

    listed = cli("jobs", "dlq", "list")
    assert all(job_id[:8] in listed.stdout for job_id in ids)
    assert "RuntimeError: exploded" in listed.stdout

    shown = cli("jobs", "dlq", "show", ids[0])
    assert "Traceback" in shown.stdout and "exploded" in shown.stdout

    retried = cli("jobs", "dlq", "retry", ids[0])
    assert retried.stdout.strip() == "retried 1 dead job(s)"
    info = json.loads(cli("jobs", "get", ids[0]).stdout)
    assert (info["state"], info["attempts"]) == ("queued", 0)

    assert cli("jobs", "dlq", "purge", "--all").stdout.strip() == "purged 2 dead job(s)"
    assert "not dead" in assert_one_line_failure(cli("jobs", "dlq", "show", ids[0]))
    assert "give job ids, or --all" in assert_one_line_failure(cli("jobs", "dlq", "retry"))
    assert "No job has id" in assert_one_line_failure(cli("jobs", "get", "nope"))

    scheduled = cli("jobs", "run-scheduled", "nightly")
    assert scheduled.stdout.startswith("enqueued nightly: ")
    assert "No cron schedule" in assert_one_line_failure(cli("jobs", "run-scheduled", "nope"))


def test_worker_serves_its_metrics_and_stops_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    assert bastion("db", "upgrade", database_url=url, BASTION_APP=APP).returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    env |= {"BASTION_APP": APP, "BASTION_ENV": "test", "BASTION_DATABASE_URL": url}
    workers = Workers(env, tmp_path)
    worker = workers.start("--metrics-port", str(port))
    try:
        workers.wait_started(worker)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert b"bastion_jobs_enqueued_total" in response.read()
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
