"""Tenancy costs: the ORM tenant filter on a list query, and tenant export.

Run ``.venv/bin/python bench/tenancy.py`` (full) or ``--quick`` (under a minute),
with PostgreSQL on 127.0.0.1 (``BASTION_TEST_POSTGRES_URL``). In one run:

- **filter**: the reference app's project list query (50 rows of one tenant out
  of two tenants' rows) through a scoped session, where Bastion adds the tenant
  criteria and checks for a missing tenant, against the same query with the
  ``WHERE tenant_id = ...`` written by hand on an unscoped engine. Ratio:
  reference time / Bastion time.
- **export**: ``export_tenant`` of one tenant with N tasks (1,000,000 in the
  full run) to a file, rows/s and the exporting process's peak RSS growth,
  against asyncpg's ``COPY (SELECT ...) TO`` a gzip file of the same rows, the
  fastest way PostgreSQL hands rows out (CSV text, no decoding). Ratio: Bastion
  rows/s / COPY rows/s; no target, the figures are reported.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import secrets
import statistics
import sys
import time
import uuid
from pathlib import Path

import asyncpg
from harness import in_process_main
from sqlalchemy import select

from bastion import Database
from bastion.lifecycle import migrations
from bastion.tenancy import scope_database, tenant_context
from bastion.tenancy.export import COMPRESSION, export_tenant

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the reference app's package
from examples.taskboard.app import MIGRATIONS
from examples.taskboard.models import Project

ADMIN_URL = os.environ.get(
    "BASTION_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TARGET_FILTER = 0.8
TARGET_EXPORT = None  # the issue sets none: throughput and memory are reported


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def seed(url: str, tenant: uuid.UUID, other: uuid.UUID, tasks: int) -> uuid.UUID:
    conn = await asyncpg.connect(url)
    project = uuid.uuid4()
    try:
        for org in (tenant, other):
            await conn.execute(
                "INSERT INTO bastion_orgs (id, name, created_at, updated_at)"
                " VALUES ($1, 'bench', now(), now())",
                org,
            )
            await conn.execute(
                "INSERT INTO taskboard_projects (id, tenant_id, name, description, version,"
                " created_at, updated_at) SELECT gen_random_uuid(), $1, 'p' || i, '', 1, now(),"
                " now() FROM generate_series(1, 200) i",
                org,
            )
        await conn.execute(
            "INSERT INTO taskboard_projects (id, tenant_id, name, description, version,"
            " created_at, updated_at) VALUES ($1, $2, 'big', '', 1, now(), now())",
            project,
            tenant,
        )
        await conn.execute(
            "INSERT INTO taskboard_tasks (id, tenant_id, project_id, title, done, version,"
            " created_at, updated_at) SELECT gen_random_uuid(), $1, $2, 'task ' || i,"
            " i % 3 = 0, 1, now(), now() FROM generate_series(1, $3) i",
            tenant,
            project,
            tasks,
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return project


async def filter_times(url: str, tenant: uuid.UUID, n: int, rounds: int) -> tuple[float, float]:
    scoped, plain = Database(url), Database(url)
    scope_database(scoped)
    query = select(Project).order_by(Project.id).limit(50)
    by_hand = query.where(Project.tenant_id == tenant)

    async def run(db: Database, statement: object) -> float:
        start = time.perf_counter()
        for _ in range(n):
            async with db.session() as session:
                rows = (await session.scalars(statement)).all()  # type: ignore[call-overload]
                assert len(rows) == 50
        return (time.perf_counter() - start) / n

    ours, theirs = [], []
    with tenant_context(tenant):
        await run(scoped, query)
        await run(plain, by_hand)
        for _ in range(rounds):
            ours.append(await run(scoped, query))
            theirs.append(await run(plain, by_hand))
    await scoped.dispose()
    await plain.dispose()
    return statistics.median(ours), statistics.median(theirs)


async def copy_rows_per_s(dsn: str, tenant: uuid.UUID, workdir: Path) -> float:
    conn = await asyncpg.connect(dsn)
    start = time.perf_counter()
    rows = 0
    try:
        with gzip.open(workdir / "copy.csv.gz", "wb", compresslevel=COMPRESSION) as sink:

            async def write(chunk: bytes) -> None:
                sink.write(chunk)

            status = await conn.copy_from_query(
                "SELECT * FROM taskboard_tasks WHERE tenant_id = $1", tenant, output=write
            )
            rows = int(status.split()[-1])
    finally:
        await conn.close()
    return rows / (time.perf_counter() - start)


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    name = f"bastion_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    dsn, url = f"{base}/{name}", f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
    try:
        db = Database(url)
        await migrations.upgrade(db, [MIGRATIONS])
        tenant, other = uuid.uuid4(), uuid.uuid4()
        await seed(dsn, tenant, other, args.tasks)
        status = await migrations.status(db, [MIGRATIONS])
        before = peak_rss_mib()
        start = time.perf_counter()
        manifest = await export_tenant(
            db, migrations.target_metadata(), tenant, workdir / "t.tar", status.current
        )
        elapsed = time.perf_counter() - start
        after = peak_rss_mib()
        rss_growth = after - before
        await db.dispose()
        exported = sum(t["rows"] for t in manifest["tables"].values())
        export_rate = exported / elapsed
        copy_rate = await copy_rows_per_s(dsn, tenant, workdir)
        ours, theirs = await filter_times(url, tenant, args.queries, args.rounds)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    print(f"PostgreSQL, {args.tasks:,} tasks in the exported tenant")
    print(f"list query, scoped (Bastion): {ours * 1e6:8.1f} µs")
    print(f"list query, filter by hand:   {theirs * 1e6:8.1f} µs")
    print(
        f"export: {exported:,} rows in {elapsed:.1f} s = {export_rate:,.0f} rows/s, "
        f"peak RSS {after:.0f} MiB (growth during the export {rss_growth:.1f} MiB)"
    )
    print(f"COPY of the tasks to gzip: {copy_rate:,.0f} rows/s")
    return {
        "bench": "tenancy",
        "results": [
            {
                "name": "scoped_list_query_us",
                "value": round(ours * 1e6, 1),
                "unit": "µs",
                "reference": "same query with the tenant filter written by hand",
                "reference_value": round(theirs * 1e6, 1),
                "ratio": round(theirs / ours, 3),
                "target_ratio": TARGET_FILTER,
            },
            {
                "name": "export_rows_per_s",
                "value": round(export_rate),
                "unit": "rows/s",
                "rows": exported,
                "peak_rss_mib": round(after),
                "peak_rss_growth_mib": round(rss_growth, 1),
                "reference": "asyncpg COPY (SELECT ...) TO a gzip file",
                "reference_value": round(copy_rate),
                "ratio": round(export_rate / copy_rate, 3),
                "target_ratio": TARGET_EXPORT,
            },
        ],
    }


def main() -> int:
    return in_process_main(
        __doc__ or "",
        run,
        quick={"tasks": 50_000, "queries": 200, "rounds": 3},
        full={"tasks": 1_000_000, "queries": 1000, "rounds": 7},
    )


if __name__ == "__main__":
    sys.exit(main())
