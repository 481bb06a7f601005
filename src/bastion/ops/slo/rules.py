"""Prometheus rules for SLOs: SLI recording rules, error budget, burn-rate alerts.

The alerts follow the multi-window, multi-burn-rate method of Google's SRE
workbook ("Alerting on SLOs"). The *burn rate* is the error ratio over the
error budget (1 - objective): at 1x, the budget lasts exactly the SLO window.
Each alert needs a long window (is the burn real?) and a short one (is it still
going on?), so it fires fast on a big outage and stops soon after recovery:

====================  ===========  ==========  ============  ========================
alert                 burn rate    long        short         budget spent when fired
====================  ===========  ==========  ============  ========================
SLOBurnRateFast       14.4x        1 h         5 min         2% (page)
SLOBurnRateSlow       6x           6 h         30 min        5% (page)
SLOBudgetErosion      1x           3 days      6 h           10% (ticket)
====================  ===========  ==========  ============  ========================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from bastion.ops.http_metrics import DURATION, le_label
from bastion.ops.slo.model import SLO

RUNBOOK = "docs/slo.md"
ERROR_RATIO = "slo:sli_error:ratio_rate{window}"
BURN_RATE = "slo:burn_rate:ratio_rate{window}"
BUDGET_REMAINING = "slo:error_budget_remaining:ratio"
OBJECTIVE = "slo:objective:ratio"


@dataclass(frozen=True)
class BurnAlert:
    name: str
    factor: float
    long: str
    short: str
    wait: str  # the alert's ``for``
    severity: str


BURN_ALERTS = (
    BurnAlert("SLOBurnRateFast", 14.4, "1h", "5m", "2m", "page"),
    BurnAlert("SLOBurnRateSlow", 6, "6h", "30m", "15m", "page"),
    BurnAlert("SLOBudgetErosion", 1, "3d", "6h", "1h", "ticket"),
)
WINDOWS = ("5m", "30m", "1h", "6h", "3d")


def _number(value: float) -> str:
    return f"{value:.10g}"


class _Dumper(yaml.SafeDumper):
    """Multi-line expressions as ``|`` blocks; no YAML anchors for repeated labels."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _block(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _block)


def _regex(values: list[str]) -> str:
    # Route templates hold { and }: quote every RE2 metacharacter, then escape for PromQL.
    return "|".join(re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", value) for value in values)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def selector(slo: SLO, *extra: str) -> str:
    """The label matchers of the SLO's requests, plus ``extra``."""
    matchers = [f"{name}={_quote(value)}" for name, value in sorted(slo.matchers.items())]
    if slo.routes:
        matchers.append(f"http_route=~{_quote(_regex(slo.routes))}")
    if slo.exclude_routes:
        matchers.append(f"http_route!~{_quote(_regex(slo.exclude_routes))}")
    return "{" + ", ".join([*matchers, *extra]) + "}"


def error_ratio(slo: SLO, window: str) -> str:
    """PromQL: the share of the SLO's requests that were bad over ``window``."""
    total = f"sum(rate({DURATION}_count{selector(slo)}[{window}]))"
    if slo.sli == "availability":
        bad = selector(slo, 'http_response_status_code=~"5.."')
        # "or vector(0)": with no 5xx series at all the ratio is 0, not absent.
        return f"(sum(rate({DURATION}_count{bad}[{window}])) or vector(0))\n/\n{total}"
    good = selector(slo, f'le="{le_label(slo.threshold_seconds)}"')
    return f"1 - (\n  sum(rate({DURATION}_bucket{good}[{window}]))\n  /\n  {total}\n)"


def _recording(slo: SLO) -> list[dict[str, Any]]:
    labels = {"slo": slo.name, "sli": slo.sli}
    period = f"{slo.window_days}d"
    rules: list[dict[str, Any]] = [
        {"record": ERROR_RATIO.format(window=w), "expr": error_ratio(slo, w), "labels": labels}
        for w in dict.fromkeys([*WINDOWS, period])
    ]
    match = f'{{slo="{slo.name}"}}'
    budget = _number(slo.error_budget)
    objective = _number(slo.objective / 100)
    rules.append({"record": OBJECTIVE, "expr": f"vector({objective})", "labels": labels})
    rules.extend(
        {
            "record": BURN_RATE.format(window=w),
            "expr": f"{ERROR_RATIO.format(window=w)}{match} / {budget}",
            "labels": labels,
        }
        for w in WINDOWS
    )
    rules.append(
        {
            "record": BUDGET_REMAINING,
            "expr": f"1 - {ERROR_RATIO.format(window=period)}{match} / {budget}",
            "labels": labels,
        }
    )
    return rules


def _alerts(slo: SLO, runbook: str) -> list[dict[str, Any]]:
    match = f'{{slo="{slo.name}"}}'
    alerts = []
    for alert in BURN_ALERTS:
        threshold = _number(alert.factor * slo.error_budget)
        long = ERROR_RATIO.format(window=alert.long)
        short = ERROR_RATIO.format(window=alert.short)
        alerts.append(
            {
                "alert": alert.name,
                "expr": f"{long}{match} > {threshold}\nand\n{short}{match} > {threshold}",
                "for": alert.wait,
                "labels": {"slo": slo.name, "sli": slo.sli, "severity": alert.severity},
                "annotations": {
                    "summary": f"SLO {slo.name}: error budget burning at over "
                    f"{alert.factor:g}x ({alert.long} and {alert.short})",
                    "description": f"{slo.summary()}. {slo.description}".strip(),
                    "runbook_url": f"{runbook}#{alert.name.lower()}",
                },
            }
        )
    return alerts


def render_rules(slos: list[SLO], *, runbook: str = RUNBOOK) -> str:
    """A Prometheus rule file: per SLO a group of recording rules and one of alerts."""
    groups: list[dict[str, Any]] = []
    for slo in slos:
        groups.append({"name": f"slo-{slo.name}-recording", "rules": _recording(slo)})
        groups.append({"name": f"slo-{slo.name}-alerts", "rules": _alerts(slo, runbook)})
    header = "# Generated by 'bastion ops slo render'; edit the SLOs, not this file.\n"
    return header + yaml.dump({"groups": groups}, Dumper=_Dumper, sort_keys=False, width=120)
