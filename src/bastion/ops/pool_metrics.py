"""Connection pool gauges, read from the pools when metrics are scraped.

OpenTelemetry's database client conventions name them
(``db.client.connection.count`` by ``db.client.connection.state``, and
``db.client.connection.max``); Prometheus spells the dots as underscores. One
series per pool: the app's database engine (``database``) and its Redis client
(``redis``). Nothing runs per request: the numbers are read at scrape time, and
in multiprocess mode also every few seconds by each worker (see ``refresher``),
so the merged view is never older than that.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from bastion.ops.metrics import Metrics

REFRESH_SECONDS = 5.0
# (idle, used, max) of a pool; None for a pool that keeps no count (SQLite :memory:).
PoolReader = Callable[[], tuple[int, int, int] | None]


def sqlalchemy_pool(engine: Any) -> PoolReader:
    """Counts of a SQLAlchemy engine's ``QueuePool`` (PostgreSQL, SQLite files)."""

    def read() -> tuple[int, int, int] | None:
        pool = engine.pool  # dispose() replaces it
        if not hasattr(pool, "checkedout"):  # StaticPool, NullPool: nothing to count
            return None
        overflow = max(getattr(pool, "_max_overflow", 0), 0)
        return pool.checkedin(), pool.checkedout(), pool.size() + overflow

    return read


def redis_pool(pool: Any) -> PoolReader:
    """Counts of a redis-py asyncio ``ConnectionPool``.

    redis-py has no public count of idle and used connections; its two
    collections are read, and a pool without them reports nothing.
    """

    def read() -> tuple[int, int, int] | None:
        idle = getattr(pool, "_available_connections", None)
        used = getattr(pool, "_in_use_connections", None)
        if idle is None or used is None:
            return None
        return len(idle), len(used), int(pool.max_connections)

    return read


def install_pool_metrics(metrics: Metrics, pools: dict[str, PoolReader]) -> None:
    """Declare the pool gauges and have them set from ``pools`` at each scrape."""
    count = metrics.gauge(
        "db_client_connection_count",
        "Connections in the pool, by state (idle or used).",
        ["db_client_connection_pool_name", "db_client_connection_state"],
    )
    most = metrics.gauge(
        "db_client_connection_max",
        "Most connections the pool opens.",
        ["db_client_connection_pool_name"],
    )

    def refresh() -> None:
        for name, read in pools.items():
            counts = read()
            if counts is None:
                continue
            idle, used, limit = counts
            count.labels(name, "idle").set(idle)
            count.labels(name, "used").set(used)
            most.labels(name).set(limit)

    metrics.on_scrape(refresh)


@contextlib.asynccontextmanager
async def refresher(metrics: Metrics, interval: float = REFRESH_SECONDS) -> AsyncIterator[None]:
    """In multiprocess mode, refresh this worker's gauges every ``interval`` seconds.

    A scrape reaches one worker; the others' pool gauges are what they last
    wrote. At shutdown, this worker's live gauges leave the merged view.
    """
    if not metrics.multiprocess:
        yield
        return

    async def loop() -> None:
        while True:
            metrics.refresh()
            await asyncio.sleep(interval)

    task = asyncio.get_running_loop().create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        metrics.process_exited()
