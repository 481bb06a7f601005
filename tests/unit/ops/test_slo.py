"""SLO declarations (YAML and code), the CLI's checks, and the Grafana dashboard."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from bastion.cli.main import app as cli
from bastion.ops.slo import SLO, load_slos, render_dashboard
from bastion.ops.slo.rules import error_ratio

pytestmark = [pytest.mark.ops]

CHECKOUT = [
    SLO(name="checkout", sli="availability", objective=99.9, routes=["/orders/{order_id}"]),
    SLO(name="checkout-latency", sli="latency", objective="99%", threshold_ms=300),
]


def write_yaml(tmp_path: Path, slos: list[dict[str, object]]) -> Path:
    path = tmp_path / "slos.yaml"
    path.write_text(yaml.safe_dump({"slos": slos}))
    return path


def test_yaml_and_code_declare_the_same_slos(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path,
        [
            {
                "name": "checkout",
                "sli": "availability",
                "objective": "99.9%",
                "routes": ["/orders/{order_id}"],
            },
            {"name": "checkout-latency", "sli": "latency", "objective": 99, "threshold_ms": 300},
        ],
    )
    assert load_slos(str(path)) == CHECKOUT
    assert load_slos("tests.unit.ops.test_slo:CHECKOUT") == CHECKOUT
    assert CHECKOUT[0].error_budget == 0.001
    assert CHECKOUT[0].summary() == "99.9% of requests available over 30 days"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "x", "sli": "latency", "objective": 99}, "threshold_ms"),
        ({"name": "x", "sli": "availability", "objective": 100}, "less than 100"),
        ({"name": "Bad Name", "sli": "availability", "objective": 99}, "pattern"),
    ],
)
def test_invalid_slos_are_refused(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SLO.model_validate(entry)


def test_names_must_be_unique(tmp_path: Path) -> None:
    entry = {"name": "a", "sli": "availability", "objective": 99}
    with pytest.raises(ValueError, match="unique: a"):
        load_slos(str(write_yaml(tmp_path, [entry, entry])))


def test_route_templates_are_quoted_for_the_regex() -> None:
    expr = error_ratio(CHECKOUT[0], "5m")
    assert 'http_route=~"/orders/\\\\{order_id\\\\}"' in expr
    assert 'http_route!~"/livez|/readyz|/startupz|/metrics"' in expr


def test_render_refuses_a_latency_threshold_that_is_no_bucket(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path, [{"name": "lat", "sli": "latency", "objective": 99, "threshold_ms": 300}]
    )
    runner = CliRunner()
    out = tmp_path / "out"
    refused = runner.invoke(cli, ["ops", "slo", "render", "--slos", str(path), "--out", str(out)])
    assert refused.exit_code == 1
    assert "add 0.3 to BASTION_METRICS__DURATION_BUCKETS" in refused.output
    accepted = runner.invoke(
        cli,
        ["ops", "slo", "render", "--slos", str(path), "--out", str(out)],
        env={"BASTION_METRICS__DURATION_BUCKETS": "0.1,0.3,1"},
    )
    assert accepted.exit_code == 0, accepted.output
    assert {p.name for p in out.iterdir()} == {"slo-rules.yaml", "slo-dashboard.json"}


def test_dashboard_has_the_panels_and_every_query_parses(tmp_path: Path) -> None:
    dashboard = json.loads(render_dashboard(CHECKOUT))
    titles = [panel["title"] for panel in dashboard["panels"]]
    for wanted in (
        "Request rate by route",
        "Error ratio (5xx)",
        "Latency percentiles",
        "checkout: error budget left",
        "checkout-latency: burn rate",
        "Jobs backlog",
        "Outbox backlog",
    ):
        assert wanted in titles
    for panel in dashboard["panels"]:
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (make prometheus)")
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = [
        {"record": f"check:q{i}", "expr": e.replace("$job", ".*")} for i, e in enumerate(exprs)
    ]
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "queries", "rules": rules}]}))
    checked = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
