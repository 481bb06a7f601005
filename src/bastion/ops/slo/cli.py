"""``bastion ops slo``: render the SLOs' rules and dashboard; show the budget left."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from bastion.core.cli import CliContext, fail
from bastion.ops.http_metrics import le_label
from bastion.ops.settings import MetricsEnvironment, MetricsSettings
from bastion.ops.slo.dashboard import render_dashboard
from bastion.ops.slo.model import SLO, load_slos
from bastion.ops.slo.rules import render_rules
from bastion.ops.slo.status import Prometheus, PrometheusError, slo_status

slo_app = typer.Typer(help="Service level objectives.", no_args_is_help=True)
SlosOption = Annotated[
    str,
    typer.Option(
        "--slos", help="SLOs: a YAML file (a list under 'slos:') or 'package.module:NAME'."
    ),
]
RULES_FILE = "slo-rules.yaml"
DASHBOARD_FILE = "slo-dashboard.json"


def _load(source: str) -> list[SLO]:
    try:
        return load_slos(source)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        fail(f"invalid SLOs in {source}: {problems}")
    except (OSError, ValueError, ImportError, AttributeError) as exc:
        fail(f"cannot load SLOs from {source}: {exc}")


def _check_thresholds(slos: list[SLO], settings: object) -> None:
    """A latency threshold must be a bound of the duration histogram, or no series counts it."""
    metrics = getattr(settings, "metrics", None)
    if not isinstance(metrics, MetricsSettings):  # no --app: the BASTION_* environment
        metrics = MetricsEnvironment().metrics
    bounds = metrics.duration_buckets
    for slo in slos:
        if slo.sli == "latency" and slo.threshold_seconds not in bounds:
            fail(
                f"SLO {slo.name}: {slo.threshold_ms:g} ms is no bucket of the duration histogram "
                f"({', '.join(map(le_label, bounds))} s); add "
                f"{le_label(slo.threshold_seconds)} to BASTION_METRICS__DURATION_BUCKETS"
            )


@slo_app.command()
def render(
    ctx: typer.Context,
    slos: SlosOption,
    out: Annotated[Path, typer.Option("--out", help="Directory to write the files to.")],
    runbook: Annotated[
        str, typer.Option(help="URL of docs/slo.md, linked from each alert.")
    ] = "docs/slo.md",
) -> None:
    """Write Prometheus rules (SLIs, error budget, burn-rate alerts) and a Grafana dashboard."""
    declared = _load(slos)
    cli: CliContext = ctx.obj
    _check_thresholds(declared, cli.settings)
    out.mkdir(parents=True, exist_ok=True)
    (out / RULES_FILE).write_text(render_rules(declared, runbook=runbook))
    (out / DASHBOARD_FILE).write_text(render_dashboard(declared))
    typer.echo(f"wrote {out / RULES_FILE} and {out / DASHBOARD_FILE} ({len(declared)} SLOs)")


def _percent(value: float | None) -> str:
    return "no data" if value is None else f"{value * 100:.1f}%"


@slo_app.command()
def status(
    slos: SlosOption,
    prometheus: Annotated[
        str, typer.Option(envvar="PROMETHEUS_URL", help="Base URL of the Prometheus server.")
    ] = "http://127.0.0.1:9090",
) -> None:
    """Print the error budget left and the burn rate of each SLO, as Prometheus sees them."""
    declared = _load(slos)
    try:
        statuses = slo_status(Prometheus(prometheus), declared)
    except PrometheusError as exc:
        fail(f"prometheus: {exc}")
    typer.echo(f"{'slo':<24} {'objective':<40} {'budget left':>11} {'burn 1h':>8}  firing")
    for entry in statuses:
        burn = "no data" if entry.burn_rate_1h is None else f"{entry.burn_rate_1h:.2f}x"
        typer.echo(
            f"{entry.slo.name:<24} {entry.slo.summary():<40} "
            f"{_percent(entry.budget_remaining):>11} {burn:>8}  {', '.join(entry.firing) or '-'}"
        )
