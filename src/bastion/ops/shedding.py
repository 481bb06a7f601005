"""Load shedding: a per-process limit on requests in progress.

The request-context middleware, outermost in the stack, counts the requests in
progress; over ``BASTION_SHEDDING__MAX_IN_FLIGHT`` it asks the
:class:`LoadShedder` whether to refuse the next one. A refused request costs a
problem response and no work: 503 ``ops.overloaded`` with ``Retry-After``, so a
client (or a load balancer) retries elsewhere rather than wait in a queue that
only grows. Probes and ``/metrics`` are never shed: a pod that fails its
liveness probe under load gets restarted, which helps nobody.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter
from starlette.types import Scope

from bastion.core.errors import BastionError
from bastion.core.routes import PathPrefixes
from bastion.ops.metrics import Metrics
from bastion.ops.settings import SheddingSettings


class Overloaded(BastionError):
    code = "ops.overloaded"
    status = 503
    title = "Overloaded"


class LoadShedder:
    """Says which request over the limit to refuse (see ``RequestContextMiddleware``)."""

    def __init__(
        self, limit: int, *, retry_after: int, exempt_paths: Iterable[str], metrics: Metrics
    ) -> None:
        if limit < 1:
            raise ValueError(f"the in-flight limit must be at least 1, not {limit}")
        self.limit = limit
        self.retry_after = str(retry_after)
        self.exempt = PathPrefixes(exempt_paths)
        self._shed: Counter = metrics.counter(
            "bastion_http_shed_requests_total",
            "Requests refused with 503 ops.overloaded because the process was at its limit.",
        )

    def refusal(self, scope: Scope) -> BastionError | None:
        """The error to answer ``scope`` with, or None to let it in (an exempt path)."""
        if self.exempt.covers(scope["path"]):
            return None
        self._shed.inc()
        return Overloaded(
            f"The server has {self.limit} requests in progress; retry shortly.",
            headers={"Retry-After": self.retry_after},
        )


def load_shedder(settings: SheddingSettings, metrics: Metrics) -> LoadShedder | None:
    """The shedder ``BASTION_SHEDDING__*`` asks for; None while the limit is 0 (off)."""
    if not settings.max_in_flight:
        return None
    return LoadShedder(
        settings.max_in_flight,
        retry_after=settings.retry_after_seconds,
        exempt_paths=settings.exempt_paths,
        metrics=metrics,
    )
