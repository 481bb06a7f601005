"""One small API through which every feature declares its Prometheus metrics.

Names follow Prometheus and OpenTelemetry conventions, checked when a metric is
declared: lowercase snake case, counters end in ``_total``, histograms carry a
unit suffix. Each app has its own registry (no process-global state), served at
``/metrics``.

>>> metrics = Metrics()
>>> hits = metrics.counter("bastion_example_hits_total", "Example hits.", ["outcome"])
>>> hits.labels(outcome="ok").inc()
>>> b"bastion_example_hits_total" in metrics.render()
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
UNIT_SUFFIXES = ("_seconds", "_bytes", "_ratio", "_requests", "_connections", "_jobs", "_keys")

__all__ = ["CONTENT_TYPE", "Metrics"]


class Metrics:
    """The app's metric registry; features call ``counter``/``gauge``/``histogram``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._declared: dict[str, Counter | Gauge | Histogram] = {}

    @property
    def names(self) -> list[str]:
        return sorted(self._declared)

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        if not name.endswith("_total"):
            raise ValueError(f"counter {name!r} must end in '_total'")
        return self._declare(name, Counter, documentation, labels)  # type: ignore[return-value]

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        return self._declare(name, Gauge, documentation, labels)  # type: ignore[return-value]

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        *,
        buckets: Sequence[float],
    ) -> Histogram:
        if not name.endswith(UNIT_SUFFIXES):
            raise ValueError(f"histogram {name!r} needs a unit suffix ({', '.join(UNIT_SUFFIXES)})")
        return self._declare(  # type: ignore[return-value]
            name, Histogram, documentation, labels, buckets=tuple(buckets)
        )

    def _declare(
        self, name: str, kind: type, documentation: str, labels: Sequence[str], **extra: object
    ) -> Counter | Gauge | Histogram:
        if not _NAME.match(name):
            raise ValueError(f"metric name {name!r} must be lowercase snake_case")
        existing = self._declared.get(name)
        if existing is not None:
            if not isinstance(existing, kind):
                raise ValueError(f"metric {name!r} is already declared as another type")
            return existing
        metric = kind(name, documentation, list(labels), registry=self.registry, **extra)
        self._declared[name] = metric
        return metric  # type: ignore[no-any-return]

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
