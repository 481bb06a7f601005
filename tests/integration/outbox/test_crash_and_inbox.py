"""A relay killed mid-batch loses nothing; the inbox runs a handler once per message."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bastion import Database
from bastion.outbox import InboxEntry, Message, OutboxSettings, Relay, add, process_once

pytestmark = pytest.mark.concurrency
ROOT = Path(__file__).resolve().parents[3]


async def test_a_relay_killed_mid_batch_loses_nothing(db: Database, tmp_path: Path):
    async with db.session() as session:
        for n in range(120):
            add(session, "m", n, key=f"k{n % 10}")
    output = tmp_path / "killed.txt"
    output.touch()
    relay = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.outbox.killed_relay",
            db.url.render_as_string(hide_password=False),
            str(output),
            "20",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 60
        while len(output.read_text().splitlines()) < 20:
            assert relay.poll() is None, "the relay process died on its own"
            assert time.monotonic() < deadline, "the relay process handled nothing"
            await asyncio.sleep(0.05)
    finally:
        relay.send_signal(signal.SIGKILL)
        relay.wait()
    before_kill = [int(line) for line in output.read_text().splitlines()]
    assert len(before_kill) == 20

    handled: Counter[int] = Counter()
    order: dict[str, list[int]] = {}

    async def handle(message: Message) -> None:
        handled[message.payload] += 1
        order.setdefault(message.key or "", []).append(message.payload)

    await asyncio.sleep(1.1)  # the dead relay's lease runs out
    survivor = Relay(db, {"m": handle}, OutboxSettings(batch_size=50))
    while await survivor.run_once():
        pass
    # Everything is delivered; what the dead relay had not marked sent comes again.
    assert set(handled) | set(before_kill) == set(range(120))
    assert set(handled.values()) == {1}
    for values in order.values():
        assert values == sorted(values)


async def test_concurrent_duplicates_run_the_handler_once(db: Database):
    runs = 0

    async def deliver() -> bool:
        async with db.session() as session:

            async def handler() -> None:
                nonlocal runs
                runs += 1
                await asyncio.sleep(0.05)  # the duplicates arrive meanwhile

            return await process_once(session, "broker", "message-1", handler)

    results = await asyncio.gather(*(deliver() for _ in range(20)))
    assert runs == 1
    assert results.count(True) == 1
    async with db.session() as session:
        count = (await session.execute(select(func.count()).select_from(InboxEntry))).scalar()
    assert count == 1


async def test_a_rolled_back_handler_runs_again(db: Database):
    runs = 0

    async def handler() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise ConnectionError("downstream failed")

    with pytest.raises(ConnectionError):
        async with db.session() as session:
            await process_once(session, "broker", "message-2", handler)
    async with db.session() as session:
        assert await process_once(session, "broker", "message-2", handler)
    async with db.session() as session:
        assert not await process_once(session, "broker", "message-2", handler)
    assert runs == 2


async def test_relay_and_inbox_together_act_once(db: Database):
    """Redelivery after a lost lease is harmless when the handler goes through the inbox."""
    effects: Counter[int] = Counter()

    async def handle(message: Message) -> None:
        async with db.session() as session:

            async def apply() -> None:
                effects[message.payload] += 1

            await process_once(session, "outbox", str(message.id), apply)

    async with db.session() as session:
        add(session, "m", 7)
    relay = Relay(db, {"m": handle}, OutboxSettings(lease_seconds=0.2))
    claimed = await relay.store.claim(10, lease=0.2, token="dead-relay")
    await handle(claimed[0])  # the dead relay delivered but never marked it sent
    await asyncio.sleep(0.3)
    assert await relay.run_once() == 1
    assert effects == Counter({7: 1})
