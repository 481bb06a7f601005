"""Webhook deliveries per second through the whole path, against a plain aiohttp loop.

Bastion: ``publish`` in a transaction → outbox → relay → fan-out (deliveries
stored) → the dispatcher beside the job worker claims them → signed POST → attempt
recorded; on PostgreSQL, in one process (the embedded worker), C POSTs at once.
Reference, in the same run, to the same receiver: one aiohttp ``ClientSession``
(connector limit C) and C tasks POSTing the same bodies, no signature, no
database. Latency: events published one per transaction at a fixed
rate; publish → delivered is the attempt's end minus the event's timestamp.

The receiver runs in its own process on 127.0.0.1 and answers 200 at once. Needs
PostgreSQL (``BASTION_TEST_POSTGRES_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``); a scratch database is created and
dropped. ``--quick`` runs in under a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx
from aiohttp import web
from harness import run_loop, run_main, summary_result
from pydantic import BaseModel
from sqlalchemy import func, select

from bastion import BastionSettings, bastion_state, create_app
from bastion.lifecycle import migrations
from bastion.tenancy import bypass_tenancy
from bastion.webhooks import WebhookAttempt, WebhookDelivery, WebhookMessage, WebhookRegistry

ADMIN_URL = os.environ.get(
    "BASTION_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


class Ping(BaseModel):
    n: int
    text: str


def receiver_main(port_file: str) -> None:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/hook", ok)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        Path(port_file).write_text(str(runner.addresses[0][1]))
        await asyncio.Event().wait()

    run_loop(serve())


async def admin(sql: str) -> None:
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def reference(url: str, bodies: list[bytes], concurrency: int) -> float:
    """Deliveries per second of C tasks POSTing over one session."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post_all() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                headers = {"content-type": "application/json"}
                async with session.post(url, data=body, headers=headers) as answer:
                    await answer.read()
                    assert answer.status == 200

        started = time.perf_counter()
        await asyncio.gather(*(post_all() for _ in range(concurrency)))
        return len(bodies) / (time.perf_counter() - started)


async def succeeded(app: Any) -> int:
    with bypass_tenancy("bench: count deliveries"):
        async with bastion_state(app).db.session() as session:
            count = await session.scalar(
                select(func.count()).where(WebhookDelivery.status == "succeeded")
            )
    return int(count or 0)


async def every(app: Any, query: Any, *, scalars: bool = True) -> list[Any]:
    with bypass_tenancy("bench: read every tenant's rows"):
        async with bastion_state(app).db.session() as session:
            if scalars:
                return list((await session.scalars(query)).all())
            return list((await session.execute(query)).all())


async def wait_for(app: Any, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while await succeeded(app) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {await succeeded(app)} of {count} deliveries succeeded")
        await asyncio.sleep(0.02)


async def benchmark(args: argparse.Namespace, url: str) -> list[dict[str, Any]]:
    name = f"bench_webhooks_{secrets.token_hex(4)}"
    await admin(f'CREATE DATABASE "{name}"')
    database_url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    settings = BastionSettings.model_validate(
        {
            "env": "test",
            "secret_key": "bench-secret-key-of-at-least-32-characters!",
            "database_url": f"{database_url}/{name}",
            "database_pool_size": args.concurrency + 10,
            "security": {"argon2_time_cost": 1, "argon2_memory_kib": 1024},
            "webhooks": {
                "allow_private_targets": True,
                "rate_per_second": 100_000,
                "concurrency": args.concurrency,
            },
            "jobs": {"embedded_worker": True, "concurrency": args.concurrency},
            "outbox": {"batch_size": 200},
            "ratelimit": {"enabled": False},
        }
    )
    hooks = WebhookRegistry()
    hooks.event_type("bench.ping", version=1, model=Ping)
    app = create_app(settings, webhooks=hooks)
    try:
        async with app.router.lifespan_context(app):
            state = bastion_state(app)
            await migrations.upgrade(state.db, state.migration_dirs)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
                user = {"email": "bench@example.com", "password": "correct horse battery staple"}
                await client.post("/auth/register", json=user)
                token = (await client.post("/auth/login", json=user)).json()["access_token"]
                client.headers["Authorization"] = f"Bearer {token}"
                org = (await client.post("/orgs", json={"name": "Bench"})).json()["id"]
                client.headers["X-Tenant-ID"] = org
                created = await client.post(
                    "/webhooks/endpoints", json={"url": url, "event_types": ["bench.ping"]}
                )
                assert created.status_code == 201, created.text
            tenant = uuid.UUID(org)
            payloads = [{"n": n, "text": "x" * 200} for n in range(args.events)]

            async def publish(batch: list[dict[str, Any]]) -> None:
                async with state.db.session() as session:
                    for data in batch:
                        await hooks.publish(session, "bench.ping", data, tenant_id=tenant)

            # Warm-up (connections, prepared statements), not measured.
            await publish(payloads[:50])
            await wait_for(app, 50, 30)
            started = time.perf_counter()
            for i in range(0, args.events, 100):
                await publish(payloads[i : i + 100])
            await wait_for(app, 50 + args.events, 120)
            ours = args.events / (time.perf_counter() - started)

            messages = await every(app, select(WebhookMessage))
            bodies = [
                json.dumps(
                    {
                        "id": str(m.id),
                        "type": m.type,
                        "version": 1,
                        "timestamp": m.created_at.isoformat(),
                        "data": m.data["1"],
                    },
                    separators=(",", ":"),
                ).encode()
                for m in messages
            ][: args.events]
            theirs = await reference(url, bodies, args.concurrency)
            print(
                f"deliveries/s at concurrency {args.concurrency}: bastion {ours:.0f} "
                f"(publish → outbox → dispatcher → signed POST, recorded), "
                f"plain aiohttp loop {theirs:.0f}"
            )

            # Latency: one event per transaction at a fixed rate.
            before = await succeeded(app)
            for n in range(args.lag_events):
                await publish([{"n": n, "text": "lag"}])
                await asyncio.sleep(1 / args.rate)
            await wait_for(app, before + args.lag_events, 60)
            rows = await every(
                app,
                select(
                    WebhookAttempt.attempted_at,
                    WebhookAttempt.duration_ms,
                    WebhookMessage.created_at,
                )
                .join(WebhookMessage, WebhookMessage.id == WebhookAttempt.message_id)
                .order_by(WebhookAttempt.id.desc())
                .limit(args.lag_events),
                scalars=False,
            )
            lags = sorted(
                (done - created).total_seconds() * 1000 + ms for done, ms, created in rows
            )
            p50 = statistics.median(lags)
            p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
            print(
                f"publish → delivered at {args.rate:.0f} events/s: p50 {p50:.1f} ms, "
                f"p99 {p99:.1f} ms"
            )
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    results = [
        summary_result(
            "webhook_deliveries_per_s",
            ours,
            "deliveries/s",
            f"plain aiohttp loop, one session, limit {args.concurrency}",
            theirs,
            0.5,
        )
    ]
    for quantile, value in (("p50", p50), ("p99", p99)):
        results.append(
            {
                "name": f"webhook_publish_to_delivery_{quantile}_ms",
                "value": round(value, 1),
                "unit": "ms",
                "reference": None,
                "reference_value": None,
                "ratio": None,
                "target_ratio": None,
            }
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run under a minute")
    parser.add_argument("--receiver", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    if args.receiver:
        receiver_main(args.receiver)
        return 0
    args.events = int(os.environ.get("WH_EVENTS", 0)) or (1_000 if args.quick else 5_000)
    args.lag_events = 100 if args.quick else 500
    args.rate = 50.0
    port_file = Path(tempfile.gettempdir()) / f"bench-webhooks-{os.getpid()}.port"
    child = subprocess.Popen([sys.executable, __file__, "--receiver", str(port_file)])
    try:
        for _ in range(100):
            if port_file.exists() and port_file.read_text():
                break
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text()}/hook"

        def run() -> int:
            results = run_loop(benchmark(args, url))
            print(json.dumps({"bench": "webhooks", "results": results}))
            return 0

        return run_main(run, "interrupted; scratch database dropped")
    finally:
        child.terminate()
        child.wait()
        port_file.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
