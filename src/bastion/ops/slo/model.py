"""Service level objectives, declared in code or in a YAML file.

An SLO names a set of routes, what a good request is, and the share of good
requests promised over a rolling window:

* ``availability``: a request is good unless it is answered 5xx;
* ``latency``: a request is good if it is answered within ``threshold_ms``
  (a bound of the request duration histogram).

Both are measured from ``http_server_request_duration_seconds``.

>>> slo = SLO(name="api-latency", sli="latency", objective=99, threshold_ms=300)
>>> round(slo.error_budget, 4), slo.threshold_seconds
(0.01, 0.3)
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, TypeAdapter, field_validator, model_validator

PROBES = ["/livez", "/readyz", "/startupz", "/metrics"]


class SLO(BaseModel, frozen=True):
    """One objective; ``objective`` is a percentage (``99.9``), or a string with ``%``."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", description="Stable id: the rules' label.")
    sli: Literal["availability", "latency"] = Field(description="What makes a request good.")
    objective: float = Field(gt=0, lt=100, description="Percent of good requests promised.")
    window_days: int = Field(30, ge=1, le=90, description="Rolling window of the objective.")
    threshold_ms: float | None = Field(None, gt=0, description="Latency: the good bound.")
    routes: list[str] = Field(
        default_factory=list, description="Route templates counted; empty: every route."
    )
    exclude_routes: list[str] = Field(
        default_factory=lambda: list(PROBES), description="Route templates never counted."
    )
    matchers: dict[str, str] = Field(
        default_factory=dict, description='Extra label matchers, e.g. {"job": "taskboard"}.'
    )
    description: str = Field("", description="Shown in alerts and the dashboard.")

    @field_validator("objective", mode="before")
    @classmethod
    def _percent(cls, value: Any) -> Any:
        if isinstance(value, str):
            return float(value.strip().removesuffix("%"))
        return value

    @model_validator(mode="after")
    def _threshold(self) -> SLO:
        if (self.sli == "latency") != (self.threshold_ms is not None):
            raise ValueError("threshold_ms is required by a latency SLO, and only by one")
        return self

    @property
    def error_budget(self) -> float:
        """The share of requests allowed to be bad: 0.001 for 99.9%."""
        return round(1 - self.objective / 100, 12)

    @property
    def threshold_seconds(self) -> float:
        assert self.threshold_ms is not None
        return self.threshold_ms / 1000

    def summary(self) -> str:
        what = "available" if self.sli == "availability" else f"under {self.threshold_ms:g} ms"
        return f"{self.objective:g}% of requests {what} over {self.window_days} days"


_SLOS = TypeAdapter(list[SLO])


def load_slos(source: str) -> list[SLO]:
    """SLOs from a YAML file (``slos.yaml``, a list under ``slos:``) or from code
    (``package.module:NAME``, a list of :class:`SLO`)."""
    if source.endswith((".yaml", ".yml")):
        document = yaml.safe_load(Path(source).read_text())
        items = document.get("slos") if isinstance(document, dict) else None
        if not isinstance(items, list):
            raise ValueError(f"{source}: expected a list under 'slos:'")
        slos = _SLOS.validate_python(items)
    else:
        module, _, attribute = source.partition(":")
        if not attribute:
            raise ValueError(f"{source!r}: give a .yaml file or 'package.module:NAME'")
        slos = _SLOS.validate_python(getattr(importlib.import_module(module), attribute))
    names = [slo.name for slo in slos]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ValueError(f"SLO names must be unique: {', '.join(duplicated)}")
    return slos
