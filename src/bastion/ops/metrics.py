"""One small API through which every feature declares its Prometheus metrics.

Names follow Prometheus and OpenTelemetry conventions, checked when a metric is
declared: lowercase snake case, counters end in ``_total``, histograms carry a
unit suffix. Each app has its own registry (no process-global state), served at
``/metrics``.

With several worker processes (``PROMETHEUS_MULTIPROC_DIR`` set before
``prometheus_client`` is first imported, as ``bastion serve --workers N`` does)
values live in per-process files and ``render`` merges every worker's.

>>> metrics = Metrics()
>>> hits = metrics.counter("bastion_example_hits_total", "Example hits.", ["outcome"])
>>> hits.labels(outcome="ok").inc()
>>> b"bastion_example_hits_total" in metrics.render()
True
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import Literal

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import values as _values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
UNIT_SUFFIXES = ("_seconds", "_bytes", "_ratio", "_requests", "_connections", "_jobs", "_keys")
# How the gauges of several processes combine; "live" modes drop exited processes.
GaugeMode = Literal["livesum", "livemax", "livemin", "liveall", "sum", "max", "min", "all"]

__all__ = ["CONTENT_TYPE", "GaugeMode", "Metrics", "multiprocess_enabled"]


def _check_name(name: str, kind: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"metric name {name!r} must be lowercase snake_case")
    if kind == "counter" and not name.endswith("_total"):
        raise ValueError(f"counter {name!r} must end in '_total'")
    if kind == "histogram" and not name.endswith(UNIT_SUFFIXES):
        raise ValueError(f"histogram {name!r} needs a unit suffix ({', '.join(UNIT_SUFFIXES)})")


def multiprocess_enabled() -> bool:
    """Whether metric values are kept in ``PROMETHEUS_MULTIPROC_DIR`` files.

    prometheus_client decides once, when it is first imported: the variable set
    later changes nothing, so this asks the library rather than the environment.
    """
    return bool(getattr(_values.ValueClass, "_multiprocess", False))


class Metrics:
    """The app's metric registry; features call ``counter``/``gauge``/``histogram``.

    ``on_scrape(callback)`` runs ``callback`` before each render: gauges that
    read a current value (pool sizes) are set there, never on the request path.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess = multiprocess_enabled()
        self._declared: dict[str, Counter | Gauge | Histogram] = {}
        self._collected: dict[str, str] = {}
        self._scrape_hooks: list[Callable[[], None]] = []

    @property
    def names(self) -> list[str]:
        return sorted([*self._declared, *self._collected])

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        _check_name(name, "counter")
        return self._declare(name, Counter, documentation, labels)  # type: ignore[return-value]

    def gauge(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        *,
        multiprocess_mode: GaugeMode = "livesum",
    ) -> Gauge:
        """A gauge; ``multiprocess_mode`` says how workers' values combine (default: sum)."""
        return self._declare(  # type: ignore[return-value]
            name, Gauge, documentation, labels, multiprocess_mode=multiprocess_mode
        )

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        *,
        buckets: Sequence[float],
    ) -> Histogram:
        _check_name(name, "histogram")
        return self._declare(  # type: ignore[return-value]
            name, Histogram, documentation, labels, buckets=tuple(buckets)
        )

    def collected(self, collector: Collector, kinds: dict[str, str]) -> None:
        """Register a collector that builds metrics ``{name: kind}`` itself, at scrape time.

        For hot paths that keep plain numbers (single-process mode only: a
        collector's numbers are its own process's).
        """
        for name, kind in kinds.items():
            _check_name(name, kind)
            if name in self._declared:
                raise ValueError(f"metric {name!r} is already declared")
        self.registry.register(collector)
        self._collected.update(kinds)

    def _declare(
        self, name: str, kind: type, documentation: str, labels: Sequence[str], **extra: object
    ) -> Counter | Gauge | Histogram:
        _check_name(name, kind.__name__.lower())
        if name in self._collected:
            raise ValueError(f"metric {name!r} is already declared")
        existing = self._declared.get(name)
        if existing is not None:
            if not isinstance(existing, kind):
                raise ValueError(f"metric {name!r} is already declared as another type")
            return existing
        metric = kind(name, documentation, list(labels), registry=self.registry, **extra)
        self._declared[name] = metric
        return metric  # type: ignore[no-any-return]

    def on_scrape(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` before every render (and every ``refresh``)."""
        self._scrape_hooks.append(callback)

    def refresh(self) -> None:
        """Run the scrape hooks: set the gauges that read a current value."""
        for hook in self._scrape_hooks:
            hook()

    def render(self) -> bytes:
        """The registry in Prometheus text format; every worker's, in multiprocess mode."""
        self.refresh()
        if not self.multiprocess:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return generate_latest(merged)

    def process_exited(self) -> None:
        """Drop this process's ``live*`` gauges from the merged view (at shutdown)."""
        if self.multiprocess:
            mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
