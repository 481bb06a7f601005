"""Service level objectives: declare them, render Prometheus rules and a Grafana
dashboard (``bastion ops slo render``), read the budget left (``bastion ops slo status``)."""

from bastion.ops.slo.dashboard import render_dashboard
from bastion.ops.slo.model import SLO, load_slos
from bastion.ops.slo.rules import render_rules

__all__ = ["SLO", "load_slos", "render_dashboard", "render_rules"]
