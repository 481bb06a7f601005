"""Job queue throughput and latency: Bastion on Redis against arq, Bastion on
PostgreSQL against procrastinate.

    .venv/bin/python bench/jobs.py [--quick] [--jobs N] [--concurrency C]

For each system, in the same run on the same machine: enqueue N no-op jobs,
start one worker process (concurrency C for every system), and time how fast it
empties the queue, from its first claim to the last job done (the parent polls
the queue's depth). Then, on the now idle worker, enqueue jobs one by one and
measure enqueue -> start (the job records when it started).

Peers, tuned for throughput: arq with ``poll_delay=0.01`` and ``max_jobs=C``;
procrastinate with ``concurrency=C`` (LISTEN/NOTIFY on). arq pins redis-py below
6 while Bastion uses 8, so arq runs from its own virtualenv (``.venv-bench-arq``,
made on first use). Every system keeps its job records (its default).
The last line is the JSON summary of DESIGN.md section 6.
"""

# No `from __future__ import annotations`: the tasks' payload models are local classes.
import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
ARQ_VENV = REPO_ROOT / ".venv-bench-arq"
ARQ_VERSION = "0.28.0"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_DB = 14  # Bastion's keys and every latency sample
ARQ_DB = 15  # arq's fixed key names live apart
ARQ_QUEUE = "bench:arq:queue"
BASTION_PREFIX = "bench:bastion:jobs:"
PG_ADMIN = os.environ.get(
    "BASTION_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PG_BASE = PG_ADMIN.rsplit("/", 1)[0]
DATABASES = {
    "bastion-postgres": "bastion_bench_jobs",
    "procrastinate": "bastion_bench_procrastinate",
}
LATENCY_KEY = "bench:jobs:latency:"
LATENCY_GAP_S = 0.02


def pg_url(system: str) -> str:
    return f"{PG_BASE}/{DATABASES[system]}"


# --- the systems' tasks, enqueues and workers (each runs in a child process) ------------------


def _record_latency(system: str, sent: float) -> None:
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
    client.rpush(LATENCY_KEY + system, time.time() - sent)
    client.close()


def bastion_parts(system: str) -> tuple[Any, Any, Any]:
    """The queue of a Bastion system, its registry and what to close."""
    from pydantic import BaseModel

    from bastion.core.db import Database
    from bastion.core.redis import open_redis
    from bastion.jobs import JobQueue, JobsRegistry, RedisJobStore, SqlJobStore

    registry = JobsRegistry()

    class Sent(BaseModel):
        sent: float = 0.0

    @registry.task()
    async def noop(payload: Sent) -> None:
        return None

    @registry.task()
    async def stamp(payload: Sent) -> None:
        await asyncio.to_thread(_record_latency, system, payload.sent)

    if system == "bastion-redis":
        client = open_redis(f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}")
        return JobQueue(RedisJobStore(client, prefix=BASTION_PREFIX), registry), client.aclose, Sent
    db = Database(pg_url(system).replace("postgresql://", "postgresql+asyncpg://"), pool_size=20)
    return JobQueue(SqlJobStore(db), registry), db.dispose, Sent


async def bastion_enqueue(system: str, count: int, task: str) -> None:
    queue, close, sent = bastion_parts(system)
    if task == "noop":
        for start in range(0, count, 500):
            await asyncio.gather(
                *(queue.enqueue("noop", sent()) for _ in range(min(500, count - start)))
            )
    else:
        for _ in range(count):
            await queue.enqueue("stamp", sent(sent=time.time()))
            await asyncio.sleep(LATENCY_GAP_S)
    await close()


async def bastion_worker(system: str, concurrency: int) -> None:
    from bastion.jobs import Worker, WorkerOptions
    from bastion.jobs.metrics import JobMetrics
    from bastion.ops.metrics import Metrics

    queue, close, _ = bastion_parts(system)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    options = WorkerOptions(concurrency=concurrency, poll=1.0, grace=5.0)
    print("ready", flush=True)
    await Worker(queue, options, metrics=JobMetrics(Metrics())).run(stop)
    await queue.store.close()
    await close()


def arq_settings() -> Any:
    from arq.connections import RedisSettings

    return RedisSettings(host=REDIS_HOST, port=REDIS_PORT, database=ARQ_DB)


async def arq_noop(ctx: dict[str, Any]) -> None:
    return None


async def arq_stamp(ctx: dict[str, Any], sent: float) -> None:
    await asyncio.to_thread(_record_latency, "arq", sent)


async def arq_enqueue(count: int, task: str) -> None:
    from arq import create_pool

    pool = await create_pool(arq_settings(), default_queue_name=ARQ_QUEUE)
    if task == "noop":
        for start in range(0, count, 500):
            await asyncio.gather(
                *(pool.enqueue_job("arq_noop") for _ in range(min(500, count - start)))
            )
    else:
        for _ in range(count):
            await pool.enqueue_job("arq_stamp", time.time())
            await asyncio.sleep(LATENCY_GAP_S)
    await pool.aclose()


def arq_worker(concurrency: int) -> None:
    from arq.worker import Worker

    worker = Worker(
        functions=[arq_noop, arq_stamp],  # type: ignore[list-item]
        redis_settings=arq_settings(),
        queue_name=ARQ_QUEUE,
        max_jobs=concurrency,
        poll_delay=0.01,
        handle_signals=True,
    )
    print("ready", flush=True)
    worker.run()


def procrastinate_app() -> Any:
    import procrastinate

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=pg_url("procrastinate"))
    )

    @app.task(name="noop")
    async def noop() -> None:
        return None

    @app.task(name="stamp")
    async def stamp(sent: float) -> None:
        await asyncio.to_thread(_record_latency, "procrastinate", sent)

    return app


async def procrastinate_enqueue(count: int, task: str) -> None:
    app = procrastinate_app()
    async with app.open_async():
        if task == "noop":
            for start in range(0, count, 1000):
                await app.tasks["noop"].batch_defer_async(
                    *({} for _ in range(min(1000, count - start)))
                )
        else:
            for _ in range(count):
                await app.tasks["stamp"].defer_async(sent=time.time())
                await asyncio.sleep(LATENCY_GAP_S)


async def procrastinate_worker(concurrency: int) -> None:
    app = procrastinate_app()
    async with app.open_async():
        print("ready", flush=True)
        await app.run_worker_async(concurrency=concurrency, install_signal_handlers=True)


def child(args: argparse.Namespace) -> None:
    system = args.system
    if args.role == "worker":
        if system == "arq":
            arq_worker(args.concurrency)
        elif system == "procrastinate":
            asyncio.run(procrastinate_worker(args.concurrency))
        else:
            asyncio.run(bastion_worker(system, args.concurrency))
        return
    if system == "arq":
        asyncio.run(arq_enqueue(args.jobs, args.role))
    elif system == "procrastinate":
        asyncio.run(procrastinate_enqueue(args.jobs, args.role))
    else:
        asyncio.run(bastion_enqueue(system, args.jobs, args.role))


# --- the parent: setup, measuring, report ----------------------------------------------------


def python_for(system: str) -> str:
    if system != "arq":
        return sys.executable
    python = ARQ_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {ARQ_VENV} with arq {ARQ_VERSION} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(ARQ_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"arq=={ARQ_VERSION}"], check=True
        )
    return str(python)


def run_child(system: str, role: str, *, jobs: int = 0, concurrency: int = 0) -> Any:
    command = [python_for(system), __file__, "--role", role, "--system", system]
    command += ["--jobs", str(jobs), "--concurrency", str(concurrency)]
    # The arq virtualenv has no Bastion: it reads only this file.
    env = os.environ | {"PYTHONPATH": str(REPO_ROOT / "src")} if system != "arq" else None
    if role != "worker":
        subprocess.run(command, check=True, env=env)
        return None
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True)
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError(f"{system} worker did not start")
    return process


def redis_client(db: int) -> Any:
    import redis

    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)


def clear_redis() -> None:
    for db, pattern in (
        (REDIS_DB, BASTION_PREFIX + "*"),
        (REDIS_DB, LATENCY_KEY + "*"),
        (ARQ_DB, "arq:*"),
    ):
        client = redis_client(db)
        keys = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        client.close()
    client = redis_client(ARQ_DB)
    client.delete(ARQ_QUEUE)
    client.close()


def reset_database(system: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASES[system]}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASES[system]}"')
    if system == "procrastinate":
        app = procrastinate_app()
        with app.open():
            app.schema_manager.apply_schema()
        return

    from bastion.core.db import Database
    from bastion.lifecycle import migrations

    async def migrate() -> None:
        db = Database(pg_url(system).replace("postgresql://", "postgresql+asyncpg://"))
        await migrations.upgrade(db, ())
        await db.dispose()

    asyncio.run(migrate())


def depth_reader(system: str) -> Any:
    """A function giving the jobs not yet done."""
    if system == "bastion-redis":
        client = redis_client(REDIS_DB)
        keys = [f"{BASTION_PREFIX}{k}:default" for k in ("ready", "delayed", "running")]
        return lambda: sum(client.zcard(k) for k in keys)
    if system == "arq":
        client = redis_client(ARQ_DB)
        return lambda: client.zcard(ARQ_QUEUE)
    import psycopg

    conn = psycopg.connect(pg_url(system), autocommit=True)
    query = (
        "SELECT count(*) FROM bastion_jobs WHERE state IN ('queued', 'running')"
        if system == "bastion-postgres"
        else "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
    )
    return lambda: conn.execute(query).fetchone()[0]  # type: ignore[index]


def done_count(system: str) -> int:
    """Jobs the system records as completed: a check that the queue emptied for real."""
    if system == "bastion-redis":
        return int(redis_client(REDIS_DB).zcard(BASTION_PREFIX + "done"))
    if system == "arq":
        return sum(1 for _ in redis_client(ARQ_DB).scan_iter(match="arq:result:*", count=1000))
    import psycopg

    query = (
        "SELECT count(*) FROM bastion_jobs WHERE state = 'done'"
        if system == "bastion-postgres"
        else "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
    )
    with psycopg.connect(pg_url(system)) as conn:
        return int(conn.execute(query).fetchone()[0])  # type: ignore[index]


def measure(system: str, jobs: int, concurrency: int, samples: int) -> dict[str, float]:
    if system in DATABASES:
        reset_database(system)
    clear_redis()
    run_child(system, "noop", jobs=jobs)
    depth = depth_reader(system)
    assert depth() == jobs, f"{system}: {depth()} jobs queued, expected {jobs}"
    worker = run_child(system, "worker", concurrency=concurrency)
    deadline = time.monotonic() + 600
    remaining = jobs
    while remaining == jobs:
        remaining = depth()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{system}: the worker took no job")
    started, first = time.perf_counter(), remaining
    while remaining:
        time.sleep(0.005)
        remaining = depth()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{system}: {remaining} jobs left")
    rate = first / (time.perf_counter() - started)
    time.sleep(0.2)  # the last acknowledgements
    if done_count(system) != jobs:
        raise RuntimeError(f"{system}: {done_count(system)} of {jobs} jobs recorded done")

    run_child(system, "stamp", jobs=samples)
    latencies = redis_client(REDIS_DB)
    while latencies.llen(LATENCY_KEY + system) < samples:
        time.sleep(0.05)
        if time.monotonic() > deadline:
            raise RuntimeError(f"{system}: latency jobs never ran")
    values = sorted(float(v) * 1000 for v in latencies.lrange(LATENCY_KEY + system, 0, -1))
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=30)
    quantiles = statistics.quantiles(values, n=100, method="inclusive")
    return {"rate": rate, "p50": statistics.median(values), "p99": quantiles[98]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Fewer jobs: under a minute.")
    parser.add_argument("--jobs", type=int, default=None, help="No-op jobs per system.")
    parser.add_argument("--concurrency", type=int, default=10, help="Jobs at once per worker.")
    parser.add_argument(
        "--systems",
        default="bastion-redis,arq,bastion-postgres,procrastinate",
        help="Comma-separated subset to run (the summary needs each pair).",
    )
    parser.add_argument("--role", choices=["worker", "noop", "stamp"], help=argparse.SUPPRESS)
    parser.add_argument("--system", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        child(args)
        return 0
    jobs = args.jobs or (2000 if args.quick else 20000)
    samples = 40 if args.quick else 300
    systems = args.systems.split(",")
    print(f"{jobs} no-op jobs per system, one worker process, concurrency {args.concurrency}")
    print(f"arq {ARQ_VERSION}: max_jobs={args.concurrency} poll_delay=0.01 (own virtualenv)")
    print(f"procrastinate: concurrency={args.concurrency}, listen_notify on")
    print(f"bastion: concurrency={args.concurrency}, poll 1.0 s (woken by pub/sub or NOTIFY)")
    print(f"latency: {samples} jobs enqueued {LATENCY_GAP_S * 1000:.0f} ms apart on an idle worker")
    found = {}
    for system in systems:
        found[system] = measure(system, jobs, args.concurrency, samples)
        r = found[system]
        print(
            f"  {system:18} {r['rate']:9.0f} jobs/s   enqueue->start "
            f"p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms",
            flush=True,
        )
    clear_redis()
    results = []
    for mine, peer, target, label in (
        ("bastion-redis", "arq", 1.0, "redis"),
        ("bastion-postgres", "procrastinate", 1.5, "postgres"),
    ):
        if mine not in found or peer not in found:
            continue
        a, b = found[mine], found[peer]
        results.append(
            _result(f"{label}_noop_jobs_per_s", a["rate"], "jobs/s", peer, b["rate"], target)
        )
        results.append(
            _result(
                f"{label}_start_latency_p50_ms",
                b["p50"],
                "ms",
                peer,
                a["p50"],
                None,
                a["p50"],
                b["p50"],
            )
        )
        results.append(
            _result(
                f"{label}_start_latency_p99_ms",
                b["p99"],
                "ms",
                peer,
                a["p99"],
                None,
                a["p99"],
                b["p99"],
            )
        )
    print(json.dumps({"bench": "jobs", "results": results}))
    return 0


def _result(
    name: str,
    ours: float,
    unit: str,
    reference: str,
    theirs: float,
    target: float | None,
    value: float | None = None,
    reference_value: float | None = None,
) -> dict[str, Any]:
    """A summary entry; for latencies (lower is better) the ratio is reference over ours."""
    shown, ref = (value, reference_value) if value is not None else (ours, theirs)
    return {
        "name": name,
        "value": round(shown, 2),
        "unit": unit,
        "reference": reference,
        "reference_value": round(ref or 0.0, 2),
        "ratio": round(ours / theirs, 3),
        "target_ratio": target,
    }


if __name__ == "__main__":
    sys.exit(main())
