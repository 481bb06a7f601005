"""A circuit breaker per outbound host, as the HTTP client's guard.

``HttpClient(guard=HostBreakers(...))`` runs every attempt to ``host`` inside
that host's breaker: connection errors, timeouts and 5xx answers count as
failures, so a dependency that keeps failing is refused at once
(``ops.circuit_open``) instead of being waited on by every request.

With a :class:`BreakerStore` (``BASTION_BREAKERS__SHARED=true``), the breakers
are :class:`SharedCircuitBreaker`: a host found failing by one process is
refused by every process.

>>> breakers = HostBreakers()
>>> breakers("api.example.com") is breakers("api.example.com")
True
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from bastion.core.clock import Clock
from bastion.core.http import HttpClient
from bastion.core.settings import HttpClientSettings
from bastion.ops.breaker import CircuitBreaker
from bastion.ops.breaker_store import BreakerStore
from bastion.ops.metrics import Metrics
from bastion.ops.shared_breaker import SharedCircuitBreaker

__all__ = ["HostBreakers", "outbound_client"]


class HostBreakers:
    """Breakers by host, made on first use; the least recently used go past ``max_hosts``."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        metrics: Metrics | None = None,
        max_hosts: int = 1024,
        store: BreakerStore | None = None,
        **breaker_options: Any,
    ) -> None:
        self._max_hosts = max_hosts
        self._store = store
        self._options: dict[str, Any] = {"clock": clock, "metrics": metrics, **breaker_options}
        self._breakers: OrderedDict[str, CircuitBreaker] = OrderedDict()

    def __call__(self, host: str) -> CircuitBreaker:
        breaker = self._breakers.get(host)
        if breaker is None:
            name = f"http:{host}"
            breaker = (
                CircuitBreaker(name, **self._options)
                if self._store is None
                else SharedCircuitBreaker(name, store=self._store, **self._options)
            )
            self._breakers[host] = breaker
            if len(self._breakers) > self._max_hosts:
                self._breakers.popitem(last=False)
        else:
            self._breakers.move_to_end(host)
        return breaker


def outbound_client(
    settings: HttpClientSettings,
    *,
    clock: Clock | None = None,
    metrics: Metrics | None = None,
    store: BreakerStore | None = None,
) -> HttpClient:
    """The app's HTTP client, with a breaker per host unless the settings turn them off;
    shared between processes through ``store`` when given."""
    guard = (
        HostBreakers(clock=clock, metrics=metrics, store=store)
        if settings.circuit_breakers
        else None
    )
    return HttpClient.from_settings(settings, guard=guard)
