"""HTTP server metrics, named as OpenTelemetry's semantic conventions name them.

``http_server_request_duration_seconds`` (histogram) and
``http_server_active_requests`` (gauge). The route label is the route
*template* (``/projects/{project_id}``), known before routing from the
:class:`~bastion.core.routes.RouteIndex`; paths no route matches share one
value, so a scan of random URLs cannot grow the series without bound.

Called by the outermost middleware, the duration covers the whole stack and the
status is the one the client gets (the 500 made of an unhandled error included).

Every request passes here, so the numbers are kept as cheaply as the mode
allows: in one process, plain ints and floats turned into metrics at scrape
time (about half the cost of prometheus_client's locked values); with several
workers, prometheus_client's values, which write to the shared files at once.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from time import perf_counter
from typing import Any

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString
from starlette.types import Scope

from bastion.core.routes import RouteIndex
from bastion.ops.metrics import Metrics

DURATION = "http_server_request_duration_seconds"
DURATION_HELP = "Duration of HTTP server requests."
DURATION_LABELS = ("http_request_method", "http_route", "http_response_status_code")
ACTIVE = "http_server_active_requests"
ACTIVE_HELP = "HTTP server requests in progress."
# OpenTelemetry's default buckets for http.server.request.duration.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
# The methods OTel names; any other collapses to _OTHER (a client picks the method).
KNOWN_METHODS = frozenset(
    ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY")
)
OTHER_METHOD = "_OTHER"
Key = tuple[str, str, int]  # method, route template, status


def le_label(bound: float) -> str:
    """A bucket bound as the ``le`` label spells it (``0.3``, ``1.0``)."""
    return str(floatToGoString(bound))  # type: ignore[no-untyped-call]


class LocalHttpStats:
    """One process's numbers, as plain values; a collector turns them into metrics."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.active: dict[str, int] = {}
        # Per key: a count per bucket (the last one +Inf), then the sum.
        self.cells: dict[Key, list[float]] = {}
        self._bounds = [*map(le_label, buckets), "+Inf"]

    def begin(self, method: str) -> None:
        self.active[method] = self.active.get(method, 0) + 1

    def end(self, key: Key, elapsed: float) -> None:
        self.active[key[0]] -= 1
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = [0.0] * (len(self.buckets) + 2)
        cell[bisect_left(self.buckets, elapsed)] += 1
        cell[-1] += elapsed

    def collect(self) -> Iterator[Metric]:
        active = GaugeMetricFamily(ACTIVE, ACTIVE_HELP, labels=["http_request_method"])
        for method, in_flight in self.active.items():
            active.add_metric([method], in_flight)
        yield active
        duration = HistogramMetricFamily(DURATION, DURATION_HELP, labels=DURATION_LABELS)
        for (method, route, status), cell in self.cells.items():
            cumulative, buckets = 0.0, []
            # zip stops before the sum, the cell's last item
            for bound, observed in zip(self._bounds, cell, strict=False):
                cumulative += observed
                buckets.append((bound, cumulative))
            duration.add_metric([method, route, str(status)], buckets, cell[-1])
        yield duration


class SharedHttpStats:
    """prometheus_client's metrics, for multiprocess mode (values in shared files)."""

    def __init__(self, metrics: Metrics, buckets: tuple[float, ...]) -> None:
        self._duration = metrics.histogram(
            DURATION, DURATION_HELP, DURATION_LABELS, buckets=buckets
        )
        self._gauge = metrics.gauge(ACTIVE, ACTIVE_HELP, ["http_request_method"])
        # labels() hashes its arguments to find the child: done once per combination.
        self._observers: dict[Key, Callable[[float], None]] = {}
        self._active: dict[str, Any] = {}

    def begin(self, method: str) -> None:
        active = self._active.get(method)
        if active is None:
            active = self._active[method] = self._gauge.labels(method)
        active.inc()

    def end(self, key: Key, elapsed: float) -> None:
        self._active[key[0]].dec()
        observe = self._observers.get(key)
        if observe is None:
            child = self._duration.labels(key[0], key[1], str(key[2]))
            observe = self._observers[key] = child.observe
        observe(elapsed)


class HttpMetrics:
    """The :class:`~bastion.core.middleware.RequestObserver` that records the metrics.

    The request-context middleware, outermost in the stack, calls it: the
    duration covers the whole stack and the status is the one the client gets.
    """

    def __init__(
        self, metrics: Metrics, routes: RouteIndex, buckets: Sequence[float] = DURATION_BUCKETS
    ) -> None:
        self.routes = routes
        bounds = tuple(sorted(buckets))
        stats: LocalHttpStats | SharedHttpStats
        if metrics.multiprocess:
            stats = SharedHttpStats(metrics, bounds)
        else:
            stats = LocalHttpStats(bounds)
            metrics.collected(stats, {DURATION: "histogram", ACTIVE: "gauge"})
        self._begin = stats.begin
        self._end = stats.end

    def begin(self, scope: Scope) -> tuple[str, str, float]:
        # Before the app runs: routing may rewrite the scope's path (mounts).
        method = scope["method"]
        if method not in KNOWN_METHODS:
            method = OTHER_METHOD
        self._begin(method)
        return method, self.routes.lookup(scope).template, perf_counter()

    def end(self, token: tuple[str, str, float], status: int) -> None:
        method, route, start = token
        self._end((method, route, status), perf_counter() - start)
