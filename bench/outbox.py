"""Outbox relay throughput and commit-to-handler lag on PostgreSQL, against a textbook loop.

Bastion: ``bastion.outbox.Relay`` (leases taken with ``FOR UPDATE SKIP LOCKED``,
per-key order, rows kept as ``sent``, ``LISTEN/NOTIFY`` wake-up). Reference, in the
same run and on the same server: the minimal hand-written relay everyone writes
first — one transaction per batch, ``DELETE ... WHERE id IN (SELECT ... FOR UPDATE
SKIP LOCKED) RETURNING``, the handler called inside that transaction, a sleep
when the table is empty. It keeps no per-key order and no retry state, so it is a
lower bound on the work a relay can do per message.

Throughput: N messages (keys spread over 1000 values) are written first, then 1
or 3 relays (tasks of this process, one connection each) drain them with a no-op
handler; each side runs with the batch size that suits it best among those tried.
Lag: one producer commits one message per transaction at a fixed rate while one
relay runs; lag is handler time minus commit time. Both producers use the same
plain asyncpg connection pool (ours writes the row and ``NOTIFY``, as ``add``
does), so the difference is the relays'.

Needs PostgreSQL (``BASTION_TEST_POSTGRES_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``); a scratch database is created
and dropped. ``--quick`` runs in under a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from harness import run_loop, run_main, summary_result

from bastion import Database
from bastion.lifecycle import migrations
from bastion.outbox import Message, OutboxSettings, Relay

ADMIN_URL = os.environ.get(
    "BASTION_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
KEYS = 1000
REF_POLL_S = 0.01  # the reference's sleep when empty: short, to favour its lag
REF_TABLE = """
CREATE TABLE ref_outbox (
    id bigserial PRIMARY KEY, topic text NOT NULL, key text, payload jsonb NOT NULL
)
"""
REF_CLAIM = """
DELETE FROM ref_outbox WHERE id IN (
    SELECT id FROM ref_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
) RETURNING id, topic, key, payload
"""


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def rows(count: int) -> list[tuple[Any, ...]]:
    return [(f"k{n % KEYS}", json.dumps({"n": n})) for n in range(count)]


async def preload_bastion(pool: asyncpg.Pool, count: int) -> None:
    async with pool.acquire() as conn:
        await conn.execute("TRUNCATE bastion_outbox")
        await conn.executemany(
            "INSERT INTO bastion_outbox (topic, key, payload, status, attempts, created_at,"
            " available_at) VALUES ('bench', $1, $2::json, 'pending', 0, now(), now())",
            rows(count),
        )
        await conn.execute("ANALYZE bastion_outbox")


async def preload_reference(pool: asyncpg.Pool, count: int) -> None:
    async with pool.acquire() as conn:
        await conn.execute("TRUNCATE ref_outbox")
        await conn.executemany(
            "INSERT INTO ref_outbox (topic, key, payload) VALUES ('bench', $1, $2::jsonb)",
            rows(count),
        )
        await conn.execute("ANALYZE ref_outbox")


async def reference_relay(
    pool: asyncpg.Pool, batch: int, stop: asyncio.Event, handle: Callable[[Any], Awaitable[None]]
) -> None:
    async with pool.acquire() as conn:
        while not stop.is_set():
            async with conn.transaction():
                claimed = await conn.fetch(REF_CLAIM, batch)
                for row in claimed:
                    await handle(row)
            if len(claimed) < batch:
                await asyncio.sleep(REF_POLL_S)


async def drain(
    start: Callable[[asyncio.Event, Callable[[Any], Awaitable[None]]], list[Any]], count: int
) -> float:
    """Run the relays ``start`` makes until ``count`` messages were handled; messages/s."""
    done = asyncio.Event()
    stop = asyncio.Event()
    handled = 0

    async def handle(_: Any) -> None:
        nonlocal handled
        handled += 1
        if handled == count:
            done.set()

    began = time.perf_counter()
    tasks = [asyncio.ensure_future(t) for t in start(stop, handle)]
    await asyncio.wait_for(done.wait(), timeout=600)
    elapsed = time.perf_counter() - began
    stop.set()
    await asyncio.gather(*tasks)
    return count / elapsed


async def throughput(
    db: Database, pool: asyncpg.Pool, count: int, relays: int, batches: list[int]
) -> tuple[tuple[float, int], tuple[float, int]]:
    """(best messages/s, its batch size) for Bastion and for the reference."""
    ours, theirs = [], []
    for batch in batches:
        await preload_bastion(pool, count)
        settings = OutboxSettings(batch_size=batch, poll_seconds=0.05)
        rate = await drain(
            lambda stop, handle, settings=settings: [
                Relay(db, {"bench": handle}, settings).run(stop) for _ in range(relays)
            ],
            count,
        )
        ours.append((rate, batch))
        await preload_reference(pool, count)
        rate = await drain(
            lambda stop, handle, batch=batch: [
                reference_relay(pool, batch, stop, handle) for _ in range(relays)
            ],
            count,
        )
        theirs.append((rate, batch))
        print(
            f"  {relays} relay(s), batch {batch:>4}: bastion {ours[-1][0]:>8.0f}/s"
            f"   reference {theirs[-1][0]:>8.0f}/s"
        )
    return max(ours), max(theirs)


async def lag(
    produce: Callable[[int], Awaitable[int]],
    relay: Callable[[asyncio.Event, Callable[[Any], Awaitable[None]]], Awaitable[None]],
    count: int,
    rate: float,
) -> tuple[float, float]:
    """p50 and p99 of handler time minus commit time, in milliseconds."""
    committed: dict[int, float] = {}
    handled: dict[int, float] = {}
    stop = asyncio.Event()

    async def handle(message: Any) -> None:
        handled[message["n"]] = time.perf_counter()

    task = asyncio.ensure_future(relay(stop, handle))
    await asyncio.sleep(0.5)  # the relay is idle, waiting
    for n in range(count):
        began = time.perf_counter()
        await produce(n)
        committed[n] = time.perf_counter()
        await asyncio.sleep(max(0.0, 1 / rate - (committed[n] - began)))
    deadline = time.perf_counter() + 30
    while len(handled) < count and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    stop.set()
    await task
    lags = sorted(max(0.0, handled[n] - committed[n]) * 1000 for n in committed if n in handled)
    if len(lags) < count:
        raise RuntimeError(f"only {len(lags)} of {count} messages arrived")
    return statistics.median(lags), lags[min(len(lags) - 1, int(len(lags) * 0.99))]


async def benchmark(args: argparse.Namespace) -> list[dict[str, Any]]:
    name = f"bastion_bench_{secrets.token_hex(4)}"
    await admin(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    db = Database(f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}", pool_size=8)
    pool = await asyncpg.create_pool(f"{base}/{name}", min_size=4, max_size=8)
    try:
        await migrations.upgrade(db)
        async with pool.acquire() as conn:
            await conn.execute(REF_TABLE)
        results = []
        for relays in (1, 3):
            (ours, our_batch), (theirs, their_batch) = await throughput(
                db, pool, args.messages, relays, args.batches
            )
            print(
                f"{relays} relay(s): bastion {ours:.0f}/s (batch {our_batch}), "
                f"reference {theirs:.0f}/s (batch {their_batch})"
            )
            results.append(
                summary_result(
                    f"outbox_relay_{relays}_msgs_per_s",
                    ours,
                    "messages/s",
                    f"SKIP LOCKED delete loop, {relays} relay(s), batch {their_batch}",
                    theirs,
                    None,
                )
            )

        # Both producers are plain asyncpg, so that the producer's own cost (it shares the
        # event loop with the relay) is the same on both sides; ours writes what
        # bastion.outbox.add writes: the row, and NOTIFY at commit.
        async def produce_ours(n: int) -> int:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "INSERT INTO bastion_outbox (topic, key, payload, status, attempts,"
                    " created_at, available_at) VALUES ('bench', $1, $2::json, 'pending', 0,"
                    " now(), now())",
                    f"k{n % KEYS}",
                    json.dumps({"n": n}),
                )
                await conn.execute("NOTIFY bastion_outbox")
            return n

        async def produce_theirs(n: int) -> int:
            async with pool.acquire() as conn:
                await conn.execute(
                    "INSERT INTO ref_outbox (topic, key, payload) VALUES ('bench', $1, $2::jsonb)",
                    f"k{n % KEYS}",
                    json.dumps({"n": n}),
                )
            return n

        def ours_relay(
            stop: asyncio.Event, handle: Callable[[Any], Awaitable[None]]
        ) -> Awaitable[None]:
            async def adapt(message: Message) -> None:
                await handle(message.payload)

            return Relay(db, {"bench": adapt}, OutboxSettings(batch_size=100)).run(stop)

        def theirs_relay(
            stop: asyncio.Event, handle: Callable[[Any], Awaitable[None]]
        ) -> Awaitable[None]:
            async def adapt(row: Any) -> None:
                await handle(json.loads(row["payload"]))

            return reference_relay(pool, 100, stop, adapt)

        our_lag = await lag(produce_ours, ours_relay, args.lag_messages, args.rate)
        their_lag = await lag(produce_theirs, theirs_relay, args.lag_messages, args.rate)
        print(
            f"lag at {args.rate:.0f} commits/s: bastion p50 {our_lag[0]:.2f} ms, "
            f"p99 {our_lag[1]:.2f} ms (NOTIFY wake-up); reference p50 {their_lag[0]:.2f} ms, "
            f"p99 {their_lag[1]:.2f} ms (poll every {REF_POLL_S * 1000:.0f} ms)"
        )
        for index, quantile in enumerate(("p50", "p99")):
            results.append(
                {
                    "name": f"outbox_lag_{quantile}_ms",
                    "value": round(our_lag[index], 2),
                    "unit": "ms",
                    "reference": f"SKIP LOCKED loop polling every {REF_POLL_S * 1000:.0f} ms",
                    "reference_value": round(their_lag[index], 2),
                    "ratio": round(their_lag[index] / max(our_lag[index], 1e-6), 3),
                    "target_ratio": None,
                }
            )
        return results
    finally:
        await pool.close()
        await db.dispose()
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run under a minute")
    args = parser.parse_args()
    args.messages = 5_000 if args.quick else 20_000
    args.batches = [100, 500] if args.quick else [100, 500, 1000]
    args.lag_messages = 300 if args.quick else 2_000
    args.rate = 100.0 if args.quick else 200.0
    print(f"PostgreSQL {ADMIN_URL.rsplit('@', 1)[-1]}; {args.messages} messages over {KEYS} keys")

    def run() -> int:
        results = run_loop(benchmark(args))
        print(json.dumps({"bench": "outbox", "results": results}))
        return 0

    return run_main(run, "interrupted; scratch database dropped")


if __name__ == "__main__":
    sys.exit(main())
