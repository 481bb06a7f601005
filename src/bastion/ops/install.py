"""Metrics wiring for ``create_app``: the registry, ``/metrics``, pool gauges, HTTP timing."""

from __future__ import annotations

from fastapi import FastAPI

from bastion.core.state import BastionState
from bastion.ops.http_metrics import HttpMetrics
from bastion.ops.metrics import Metrics
from bastion.ops.pool_metrics import PoolReader, install_pool_metrics, redis_pool, sqlalchemy_pool
from bastion.ops.router import MetricsAccess
from bastion.ops.router import router as metrics_router
from bastion.ops.settings import MetricsSettings


def install_metrics(app: FastAPI, state: BastionState, settings: MetricsSettings) -> Metrics:
    """Create the app's :class:`Metrics`, mount ``/metrics`` and declare the pool gauges."""
    metrics = state.extensions["metrics"] = Metrics()
    state.extensions["metrics_access"] = MetricsAccess(settings)
    pools: dict[str, PoolReader] = {"database": sqlalchemy_pool(state.db.engine)}
    if state.redis is not None:
        pools["redis"] = redis_pool(state.redis.connection_pool)
    install_pool_metrics(metrics, pools)
    app.include_router(metrics_router)
    return metrics


def http_metrics(state: BastionState, settings: MetricsSettings) -> HttpMetrics:
    """The observer that times every request, for the request-context middleware."""
    return HttpMetrics(state.extensions["metrics"], state.routes, settings.duration_buckets)
