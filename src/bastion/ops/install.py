"""Observability wiring for ``create_app``: the metrics registry, ``/metrics``, pool
gauges, and the request observer (HTTP timing, and the tracing when it is on)."""

from __future__ import annotations

import inspect
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from bastion.core.errors import ConfigurationError
from bastion.core.middleware import RequestObserver
from bastion.core.state import BastionState
from bastion.ops.http_metrics import HttpMetrics
from bastion.ops.metrics import Metrics
from bastion.ops.pool_metrics import PoolReader, install_pool_metrics, redis_pool, sqlalchemy_pool
from bastion.ops.router import MetricsAccess
from bastion.ops.router import router as metrics_router
from bastion.ops.settings import MetricsSettings, TracingSettings

if TYPE_CHECKING:
    from bastion.ops.tracing import Tracing


def install_metrics(app: FastAPI, state: BastionState, settings: MetricsSettings) -> Metrics:
    """Create the app's :class:`Metrics`, mount ``/metrics`` (when enabled), declare the
    pool gauges."""
    metrics = state.extensions["metrics"] = Metrics()
    state.extensions["metrics_access"] = MetricsAccess(settings)
    pools: dict[str, PoolReader] = {"database": sqlalchemy_pool(state.db.engine)}
    if state.redis is not None:
        pools["redis"] = redis_pool(state.redis.connection_pool)
    install_pool_metrics(metrics, pools)
    if settings.enabled:
        app.include_router(metrics_router)
    return metrics


def install_tracing(state: BastionState, settings: TracingSettings) -> Tracing | None:
    """The app's tracing when ``BASTION_TRACING__ENABLED``; OpenTelemetry is imported only then."""
    if not settings.enabled:
        return None
    try:
        from bastion.ops.tracing import Tracing
    except ImportError as exc:
        raise ConfigurationError(
            f"BASTION_TRACING__ENABLED needs OpenTelemetry ({exc.name} is missing): "
            "pip install 'bastion[otel]'"
        ) from exc
    tracing = state.extensions["tracing"] = Tracing(
        state, settings.service_name or state.settings.app_name
    )
    return tracing


def fastapi_telemetry(tracing: Tracing | None) -> dict[str, Any]:
    """Options for ``FastAPI(...)``: FastAPI 0.16x makes server spans of its own once a
    tracer provider is set; with Bastion's tracing on they would come twice."""
    if tracing is None or "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False}}


def tracing_running(tracing: Tracing | None) -> AbstractAsyncContextManager[None]:
    """The lifespan part of the tracing: instrumented clients while the app runs."""
    return nullcontext() if tracing is None else tracing.running()


def request_observer(state: BastionState, settings: MetricsSettings) -> RequestObserver | None:
    """What the request-context middleware calls for every request: the HTTP metrics,
    behind the tracing's server spans when tracing is on; None when both are off."""
    observer: RequestObserver | None = None
    if settings.enabled:
        observer = HttpMetrics(state.extensions["metrics"], state.routes, settings.duration_buckets)
    tracing = state.extensions.get("tracing")
    if tracing is not None:
        observer = tracing.observer(observer)
    return observer
