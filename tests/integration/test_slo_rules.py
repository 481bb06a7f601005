"""The generated SLO rules under ``promtool``: valid, and each burn-rate alert fires for an
outage of its size and stays quiet for a smaller one (``promtool test rules``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bastion.ops.slo import SLO, render_rules
from tests.conftest import service_unavailable

pytestmark = [pytest.mark.ops]

AVAILABILITY = SLO(name="checkout", sli="availability", objective="99.9%", routes=["/orders"])
LATENCY = SLO(name="checkout-latency", sli="latency", objective=99, threshold_ms=250)
SERIES = (
    'http_server_request_duration_seconds_{kind}{{job="api", http_request_method="GET", '
    'http_route="{route}", http_response_status_code="{status}"{le}}}'
)


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        service_unavailable("promtool", FileNotFoundError("install it: make prometheus"))
    assert path is not None
    return path


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("slo") / "rules.yaml"
    path.write_text(render_rules([AVAILABILITY, LATENCY]))
    return path


def annotations(rules_file: Path, alert: str, slo: str) -> dict[str, str]:
    for group in yaml.safe_load(rules_file.read_text())["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert and rule["labels"]["slo"] == slo:
                return dict(rule["annotations"])
    raise AssertionError(f"no alert {alert} for {slo}")


def traffic(per_step: int, bad_per_step: int, steps: int, *, route: str = "/orders") -> list:
    """Counters of ``per_step`` requests per step, ``bad_per_step`` of them 5xx."""
    ok, bad = per_step - bad_per_step, bad_per_step
    return [
        {
            "series": SERIES.format(kind="count", route=route, status="200", le=""),
            "values": f"0+{ok}x{steps}",
        },
        {
            "series": SERIES.format(kind="count", route=route, status="500", le=""),
            "values": f"0+{bad}x{steps}",
        },
    ]


def slow_traffic(per_step: int, slow_per_step: int, steps: int) -> list:
    """Latency: ``slow_per_step`` requests per step above the 250 ms bound."""
    fast = per_step - slow_per_step
    return [
        {
            "series": SERIES.format(kind="count", route="/orders", status="200", le=""),
            "values": f"0+{per_step}x{steps}",
        },
        {
            "series": SERIES.format(kind="bucket", route="/orders", status="200", le=', le="0.25"'),
            "values": f"0+{fast}x{steps}",
        },
    ]


def case(
    rules_file: Path,
    slo: SLO,
    alert: str,
    series: list,
    at: str,
    fires: bool,
    *,
    interval: str = "1m",
) -> dict[str, Any]:
    severity = "ticket" if alert == "SLOBudgetErosion" else "page"
    expected = [
        {
            "exp_labels": {"slo": slo.name, "sli": slo.sli, "severity": severity},
            "exp_annotations": annotations(rules_file, alert, slo.name),
        }
    ]
    return {
        "interval": interval,
        "input_series": series,
        "alert_rule_test": [
            {"eval_time": at, "alertname": alert, "exp_alerts": expected if fires else []}
        ],
    }


def run_promtool(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120)


def test_rules_pass_promtool_check(promtool: str, rules_file: Path) -> None:
    checked = run_promtool(promtool, "check", "rules", str(rules_file))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_burn_rate_alerts_fire_for_outages_of_their_size(
    promtool: str, rules_file: Path, tmp_path: Path
) -> None:
    a = AVAILABILITY
    tests = [
        # 14.4x over 1 h and 5 min: 2% errors (20x) pages; 0.5% (5x) does not.
        case(rules_file, a, "SLOBurnRateFast", traffic(1000, 20, 80), "70m", True),
        case(rules_file, a, "SLOBurnRateFast", traffic(1000, 5, 80), "70m", False),
        # 6x over 6 h and 30 min: 0.8% (8x) pages; 0.3% (3x) does not.
        case(rules_file, a, "SLOBurnRateSlow", traffic(1000, 8, 450), "7h", True),
        case(rules_file, a, "SLOBurnRateSlow", traffic(1000, 3, 450), "7h", False),
        # 1x over 3 days and 6 h: 0.2% (2x) opens a ticket; 0.05% (half) does not.
        case(rules_file, a, "SLOBudgetErosion", traffic(1000, 2, 900), "3d", True, interval="5m"),
        case(rules_file, a, "SLOBudgetErosion", traffic(2000, 1, 900), "3d", False, interval="5m"),
        # Latency, 99% under 250 ms: 20% slow (20x) pages; 5% slow (5x) does not.
        case(rules_file, LATENCY, "SLOBurnRateFast", slow_traffic(100, 20, 80), "70m", True),
        case(rules_file, LATENCY, "SLOBurnRateFast", slow_traffic(100, 5, 80), "70m", False),
    ]
    # Over: 10 minutes of total failure, then 20 of health. The 1 h window still
    # burns at 330x, but the 5 min window has recovered: the page stops.
    recovered = traffic(1000, 0, 30)
    recovered[0]["values"] = "0x10 0+1000x20"
    recovered[1]["values"] = "0+1000x10 10000x20"
    tests.append(case(rules_file, a, "SLOBurnRateFast", recovered, "30m", False))
    tests.append(case(rules_file, a, "SLOBurnRateFast", recovered, "9m", True))
    unit = {"rule_files": [rules_file.name], "evaluation_interval": "1m", "tests": tests}
    test_file = rules_file.parent / "alerts_test.yaml"
    test_file.write_text(yaml.safe_dump(unit, sort_keys=False))
    tested = run_promtool(promtool, "test", "rules", str(test_file))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_recording_rules_give_error_ratio_burn_rate_and_budget_left(
    promtool: str, rules_file: Path
) -> None:
    labels = f'{{sli="availability", slo="{AVAILABILITY.name}"}}'
    # 4 errors in 10000 requests per minute: 0.04% of 0.1%, 0.4x; 60% of the budget left.
    unit = {
        "rule_files": [rules_file.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    *traffic(10000, 4, 120),
                    # Probes are no part of any SLO, however they fail.
                    *traffic(1000, 1000, 120, route="/readyz"),
                ],
                "promql_expr_test": [
                    {
                        "expr": f"round(slo:sli_error:ratio_rate1h{labels}, 0.000001)",
                        "eval_time": "90m",
                        "exp_samples": [{"labels": labels, "value": 0.0004}],
                    },
                    {
                        "expr": f"round(slo:burn_rate:ratio_rate1h{labels}, 0.001)",
                        "eval_time": "90m",
                        "exp_samples": [{"labels": labels, "value": 0.4}],
                    },
                    {
                        "expr": f"round(slo:error_budget_remaining:ratio{labels}, 0.001)",
                        "eval_time": "90m",
                        "exp_samples": [{"labels": labels, "value": 0.6}],
                    },
                ],
            }
        ],
    }
    test_file = rules_file.parent / "recording_test.yaml"
    test_file.write_text(yaml.safe_dump(unit, sort_keys=False))
    tested = run_promtool(promtool, "test", "rules", str(test_file))
    assert tested.returncode == 0, tested.stdout + tested.stderr
