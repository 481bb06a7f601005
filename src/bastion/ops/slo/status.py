"""Read the SLO recording rules back from a Prometheus server's HTTP API."""

from __future__ import annotations

import json
import math
import urllib.parse
import urllib.request
from dataclasses import dataclass

from bastion.ops.slo.model import SLO
from bastion.ops.slo.rules import BUDGET_REMAINING, BURN_RATE


class PrometheusError(Exception):
    """The server could not be reached or refused the query; the message says which."""


@dataclass(frozen=True)
class SloStatus:
    slo: SLO
    budget_remaining: float | None  # None: no data yet (no traffic, or rules not loaded)
    burn_rate_1h: float | None
    firing: tuple[str, ...]


class Prometheus:
    """A minimal client of ``/api/v1/query`` (instant queries)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def query(self, promql: str) -> list[dict[str, object]]:
        """The result vector of an instant query."""
        address = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        if not address.startswith(("http://", "https://")):
            raise PrometheusError(f"not an http(s) URL: {self.url}")
        try:
            with urllib.request.urlopen(address, timeout=self.timeout) as response:  # noqa: S310
                body = json.load(response)
        except (OSError, ValueError) as exc:
            raise PrometheusError(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        if body.get("status") != "success":
            raise PrometheusError(f"{self.url}: {body.get('error', 'query failed')}")
        data = body["data"]
        if data.get("resultType") != "vector":
            raise PrometheusError(f"{self.url}: expected a vector for {promql!r}")
        result: list[dict[str, object]] = data["result"]
        return result

    def scalar(self, promql: str) -> float | None:
        """The first sample's value; None when there is none or it is NaN."""
        result = self.query(promql)
        if not result:
            return None
        value = result[0]["value"]
        assert isinstance(value, list)
        number = float(value[1])
        return None if math.isnan(number) else number


def slo_status(prometheus: Prometheus, slos: list[SLO]) -> list[SloStatus]:
    statuses = []
    for slo in slos:
        match = f'{{slo="{slo.name}"}}'
        firing = prometheus.query(f'ALERTS{{slo="{slo.name}", alertstate="firing"}}')
        statuses.append(
            SloStatus(
                slo,
                prometheus.scalar(BUDGET_REMAINING + match),
                prometheus.scalar(BURN_RATE.format(window="1h") + match),
                tuple(sorted(str(a["metric"]["alertname"]) for a in firing)),  # type: ignore[index]
            )
        )
    return statuses
