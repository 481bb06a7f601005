"""A Grafana dashboard for the SLOs and the service: traffic, errors, latency,
error budget and burn rate, and the backlogs of background work.

The backlog panels read ``bastion_jobs_backlog`` and ``bastion_outbox_backlog``
(gauges by ``queue``), the names the jobs and outbox features export; they stay
empty in an app without them.
"""

from __future__ import annotations

import json
from typing import Any

from bastion.ops.http_metrics import DURATION
from bastion.ops.slo.model import SLO
from bastion.ops.slo.rules import BUDGET_REMAINING, BURN_RATE, ERROR_RATIO, selector

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
WIDTH = 24


class _Layout:
    """Places panels left to right, row after row, on Grafana's 24-column grid."""

    def __init__(self) -> None:
        self.x = self.y = self.row_height = 0
        self.panels: list[dict[str, Any]] = []

    def add(self, panel: dict[str, Any], width: int, height: int = 8) -> None:
        if self.x + width > WIDTH:
            self.x, self.y = 0, self.y + self.row_height
            self.row_height = 0
        panel["id"] = len(self.panels) + 1
        panel["gridPos"] = {"x": self.x, "y": self.y, "w": width, "h": height}
        self.panels.append(panel)
        self.x += width
        self.row_height = max(self.row_height, height)


def _panel(kind: str, title: str, unit: str, *queries: tuple[str, str]) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(queries)
        ],
    }


def _service_panels(layout: _Layout) -> None:
    requests = f'{DURATION}_count{{job=~"$job"}}'
    layout.add(
        _panel(
            "timeseries",
            "Request rate by route",
            "reqps",
            (f"sum by (http_route) (rate({requests}[5m]))", "{{http_route}}"),
        ),
        12,
    )
    errors = f'{DURATION}_count{{job=~"$job", http_response_status_code=~"5.."}}'
    layout.add(
        _panel(
            "timeseries",
            "Error ratio (5xx)",
            "percentunit",
            (f"sum(rate({errors}[5m])) / sum(rate({requests}[5m]))", "5xx"),
        ),
        12,
    )
    buckets = f'{DURATION}_bucket{{job=~"$job"}}'
    layout.add(
        _panel(
            "timeseries",
            "Latency percentiles",
            "s",
            *(
                (f"histogram_quantile({q}, sum by (le) (rate({buckets}[5m])))", f"p{q * 100:g}")
                for q in (0.5, 0.9, 0.99)
            ),
        ),
        24,
    )


def _slo_panels(layout: _Layout, slo: SLO) -> None:
    match = f'{{slo="{slo.name}"}}'
    remaining = _panel(
        "stat", f"{slo.name}: error budget left", "percentunit", (BUDGET_REMAINING + match, "")
    )
    remaining["description"] = slo.summary()
    remaining["fieldConfig"]["defaults"]["thresholds"] = {
        "mode": "absolute",
        "steps": [
            {"color": "red", "value": None},
            {"color": "orange", "value": 0.25},
            {"color": "green", "value": 0.5},
        ],
    }
    layout.add(remaining, 6)
    burn = _panel(
        "timeseries",
        f"{slo.name}: burn rate",
        "x",
        *((BURN_RATE.format(window=w) + match, w) for w in ("5m", "1h", "6h", "3d")),
    )
    layout.add(burn, 9)
    sli = f"sum(rate({DURATION}_count{selector(slo)}[5m]))"
    layout.add(
        _panel(
            "timeseries",
            f"{slo.name}: bad requests and traffic",
            "short",
            (ERROR_RATIO.format(window="5m") + match, "error ratio (5m)"),
            (sli, "requests/s"),
        ),
        9,
    )


def _backlog_panels(layout: _Layout) -> None:
    for name, title in (("bastion_jobs_backlog", "Jobs"), ("bastion_outbox_backlog", "Outbox")):
        query = f'sum by (queue) ({name}{{job=~"$job"}})'
        layout.add(_panel("timeseries", f"{title} backlog", "short", (query, "{{queue}}")), 12)


def render_dashboard(slos: list[SLO], *, title: str = "Service and SLOs") -> str:
    """The dashboard as Grafana JSON (import it, or provision it from a file)."""
    layout = _Layout()
    _service_panels(layout)
    for slo in slos:
        _slo_panels(layout, slo)
    _backlog_panels(layout)
    dashboard = {
        "title": title,
        "uid": "bastion-slo",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-24h", "to": "now"},
        "refresh": "1m",
        "tags": ["bastion", "slo"],
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus"},
                {
                    "name": "job",
                    "type": "query",
                    "datasource": DATASOURCE,
                    "query": f"label_values({DURATION}_count, job)",
                    "includeAll": True,
                    "multi": True,
                    "current": {"text": "All", "value": "$__all"},
                },
            ]
        },
        "panels": layout.panels,
    }
    return json.dumps(dashboard, indent=2) + "\n"
