"""Audit log appends per second on PostgreSQL, against plain INSERTs.

Run ``.venv/bin/python bench/audit.py`` (full) or ``--quick`` (under a minute).
A fresh database on the test PostgreSQL (``BASTION_TEST_POSTGRES_URL``) is
migrated; each writer is an asyncio task appending one event per transaction
(``AuditLog.record``: take the chain's turn, hash, insert, move the head) for a
fixed time. Scenarios: 1 writer on 1 chain, 16 writers on 1 chain (they take
turns), 16 writers on 16 chains. The reference, in the same run and the same
pattern: one plain ``INSERT`` per transaction into a table with the same
columns, no chain. Ratio: ours / plain. Target: 1,000 appends/s with 16 writers
on 16 chains, and the ratio recorded for it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
from sqlalchemy import text

from bastion.core.db import Database
from bastion.core.ids import uuid7
from bastion.lifecycle import migrations
from bastion.security.audit import AuditLog, AuditRecord

ADMIN_URL = os.environ.get(
    "BASTION_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TARGET_PER_S = 1000.0
PLAIN_TABLE = """
CREATE TABLE bench_plain_events AS SELECT * FROM bastion_audit_events WITH NO DATA;
"""
PLAIN_KEYS = (
    "ALTER TABLE bench_plain_events ADD PRIMARY KEY (id)",
    "CREATE INDEX ON bench_plain_events (org_id, id)",
)
PLAIN_INSERT = text(
    "INSERT INTO bench_plain_events (id, chain, seq, org_id, occurred_at, actor, action, "
    "target, ip, request_id, data, prev_hash, hash) VALUES (:id, :chain, :seq, :org_id, "
    ":occurred_at, :actor, :action, :target, :ip, '', :data, :prev_hash, :hash)"
)
Append = Callable[[int, uuid.UUID], Awaitable[None]]


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def rate(writers: int, chains: int, seconds: float, append: Append) -> float:
    """Appends per second by ``writers`` tasks spread over ``chains`` organizations."""
    orgs = [uuid.uuid4() for _ in range(chains)]
    done = [0] * writers
    deadline = time.perf_counter() + seconds

    async def writer(n: int) -> None:
        org = orgs[n % chains]
        while time.perf_counter() < deadline:
            await append(n, org)
            done[n] += 1

    start = time.perf_counter()
    await asyncio.gather(*(writer(n) for n in range(writers)))
    return sum(done) / (time.perf_counter() - start)


async def run(seconds: float) -> dict[str, object]:
    name = f"bastion_bench_{secrets.token_hex(4)}"
    await admin(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    db = Database(f"{base}/{name}", pool_size=20, max_overflow=0)
    try:
        await migrations.upgrade(db)
        async with db.engine.begin() as conn:
            await conn.execute(text(PLAIN_TABLE))
            for statement in PLAIN_KEYS:
                await conn.execute(text(statement))
        log = AuditLog(db)

        async def ours(n: int, org: uuid.UUID) -> None:
            await log.record(AuditRecord("bench.append", f"writer:{n}", org, data={"n": n}))

        async def plain(n: int, org: uuid.UUID) -> None:
            async with db.session() as session:
                await session.execute(
                    PLAIN_INSERT,
                    {
                        "id": uuid7(),
                        "chain": f"org:{org}",
                        "seq": 0,
                        "org_id": org,
                        "occurred_at": datetime.now(UTC),
                        "actor": f"writer:{n}",
                        "action": "bench.append",
                        "target": "",
                        "ip": "",
                        "data": json.dumps({"n": n}),
                        "prev_hash": "0" * 64,
                        "hash": "0" * 64,
                    },
                )

        results = []
        print(f"{'scenario':<22}{'audit/s':>10}{'plain/s':>10}{'ratio':>8}")
        for writers, chains in ((1, 1), (16, 1), (16, 16)):
            reference = await rate(writers, chains, seconds, plain)
            value = await rate(writers, chains, seconds, ours)
            label = f"{writers}_writers_{chains}_chains"
            ratio = value / reference
            print(f"{label:<22}{value:>10.0f}{reference:>10.0f}{ratio:>8.2f}")
            results.append(
                {
                    "name": f"appends_per_s_{label}",
                    "value": round(value, 1),
                    "unit": "appends/s",
                    "reference": "plain INSERT per transaction",
                    "reference_value": round(reference, 1),
                    "ratio": round(ratio, 3),
                    "target_ratio": None,
                }
            )
        headline = results[-1]
        headline["target_value"] = TARGET_PER_S
        headline["meets_target"] = headline["value"] >= TARGET_PER_S  # type: ignore[operator]
        return {"bench": "audit", "results": results}
    finally:
        await db.dispose()
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per scenario.")
    args = parser.parse_args()
    result = asyncio.run(run(3.0 if args.quick else 10.0))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
