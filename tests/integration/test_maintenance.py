"""Maintenance mode: switched by the CLI in another process, followed by the app."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import APIRouter

from bastion import create_app
from bastion.ops.maintenance import Maintenance, write_switch
from tests.conftest import TEST_SECRET, make_settings

pytestmark = pytest.mark.ops
ROOT = Path(__file__).resolve().parents[2]
router = APIRouter()


@router.get("/items")
async def items() -> list[str]:
    return []


@router.post("/items")
async def add_item() -> dict[str, bool]:
    return {"ok": True}


@router.get("/admin/health")
async def admin() -> dict[str, bool]:
    return {"ok": True}


@pytest.fixture
async def app_and_client(client_for, sqlite_url):
    settings = make_settings(
        sqlite_url,
        maintenance={"poll_seconds": 0.05, "exempt_paths": ["/livez", "/admin"]},
    )
    app = create_app(settings, routers=[router])
    return app, await client_for(app)


async def eventually(check, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "the app never followed the switch"
        await asyncio.sleep(0.05)


def bastion_cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    env |= {
        "BASTION_ENV": "test",
        "BASTION_SECRET_KEY": TEST_SECRET,
        "BASTION_DATABASE_URL": database_url,
    }
    return subprocess.run(
        [str(Path(sys.executable).parent / "bastion"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_cli_in_another_process_switches_every_request(app_and_client, sqlite_url):
    _, client = app_and_client
    assert (await client.get("/items")).status_code == 200

    on = await asyncio.to_thread(
        bastion_cli,
        "ops",
        "maintenance",
        "on",
        "--message",
        "Upgrading the database.",
        "--retry-after",
        "120",
        database_url=sqlite_url,
    )
    assert on.returncode == 0, on.stderr

    async def refused() -> bool:
        return (await client.get("/items")).status_code == 503

    await eventually(refused)
    response = await client.get("/items")
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "ops.maintenance"
    assert response.json()["detail"] == "Upgrading the database."
    assert response.headers["retry-after"] == "120"
    assert response.headers["x-request-id"]
    assert (await client.get("/livez")).status_code == 200
    assert (await client.get("/admin/health")).status_code == 200

    status = await asyncio.to_thread(
        bastion_cli, "ops", "maintenance", "status", database_url=sqlite_url
    )
    assert "maintenance: on (full, Retry-After 120s) Upgrading the database." in status.stdout

    off = await asyncio.to_thread(bastion_cli, "ops", "maintenance", "off", database_url=sqlite_url)
    assert off.returncode == 0, off.stderr

    async def served() -> bool:
        return (await client.get("/items")).status_code == 200

    await eventually(served)


async def test_read_only_lets_safe_methods_through(app_and_client):
    app, client = app_and_client
    await write_switch(app.state.bastion.db, Maintenance(enabled=True, read_only=True))

    async def writes_refused() -> bool:
        return (await client.post("/items")).status_code == 503

    await eventually(writes_refused)
    assert (await client.get("/items")).status_code == 200
    assert "Reading still works." in (await client.post("/items")).json()["detail"]


async def test_unreachable_database_keeps_the_last_state(client_for):
    settings = make_settings(
        "postgresql+asyncpg://postgres@127.0.0.1:1/nothing",
        maintenance={"poll_seconds": 0.05},
        database_connect_timeout=0.5,
    )
    client = await client_for(create_app(settings, routers=[router]), migrate=False)
    await asyncio.sleep(0.2)
    assert (await client.get("/items")).status_code == 200
