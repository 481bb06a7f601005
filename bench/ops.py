"""What observability costs: ``GET /livez`` of the taskboard with metrics, and with metrics
and tracing, against the same app with both off.

Four uvicorn servers of the reference app (``examples.taskboard``), differing only in
``BASTION_METRICS__ENABLED`` and ``BASTION_TRACING__ENABLED``:

* ``off``: neither (the reference);
* ``metrics``: the HTTP metrics (the default set-up);
* ``traced``: the metrics and tracing, every span sent through a ``BatchSpanProcessor``
  to an exporter that drops it in the process (the cost of making and batching spans,
  not of a network);
* ``sampled``: the same with 10% of the traces sampled (the others still propagate
  their ids, but make no span to record or export).

Short rounds alternate between the targets and the medians are compared (see
``bench/http_overhead.py``, whose machinery this reuses).

    .venv/bin/python bench/ops.py            # 15 rounds of 2 s per target
    .venv/bin/python bench/ops.py --quick    # 8 rounds of 1 s per target

The last line printed is the JSON summary described in DESIGN.md section 6.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from harness import BENCH_DIR, HttpRound
from harness import summary_result as result
from http_overhead import TABLE_HEADER, Target, main, print_settings, row, run_rounds

if TYPE_CHECKING:
    from fastapi import FastAPI

# Target ratio of each over "off"; "sampled" (10% of traces) is measured for information.
TARGETS = {"metrics": 0.85, "traced": 0.7, "sampled": 0.7}


def _taskboard(*, metrics: bool, tracing: bool) -> FastAPI:
    from bastion import BastionSettings
    from examples.taskboard.app import build

    return build(BastionSettings(metrics={"enabled": metrics}, tracing={"enabled": tracing}))


def create_off() -> FastAPI:
    return _taskboard(metrics=False, tracing=False)


def create_metrics() -> FastAPI:
    return _taskboard(metrics=True, tracing=False)


def _traced(sampled: float) -> FastAPI:
    from collections.abc import Sequence

    from opentelemetry import trace
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    class Dropped(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(sampled)))
    provider.add_span_processor(BatchSpanProcessor(Dropped()))
    trace.set_tracer_provider(provider)
    return _taskboard(metrics=True, tracing=True)


def create_traced() -> FastAPI:
    return _traced(1.0)


def create_sampled() -> FastAPI:
    """Tracing with 10% of the traces sampled (OTEL_TRACES_SAMPLER=parentbased_traceidratio)."""
    return _traced(0.1)


def target(name: str, label: str) -> Target:
    return Target(name, label, ("--app-dir", str(BENCH_DIR), "--factory", f"ops:create_{name}"))


SERVERS = (
    target("off", "metrics, tracing off"),
    target("metrics", "metrics on"),
    target("traced", "metrics + tracing"),
    target("sampled", "... 10% sampled"),
)


def run_benchmark(args: argparse.Namespace) -> int:
    print_settings(args, " / ".join(server.name for server in SERVERS))
    rounds = run_rounds(SERVERS, args)
    medians = {server.name: HttpRound.median(rounds[server]) for server in SERVERS}
    print(f"\nmedians of {args.rounds} rounds\n{TABLE_HEADER}\n{'-' * len(TABLE_HEADER)}")
    for server in SERVERS:
        print(row(medians[server.name], server.label))
    off = medians["off"].rps
    results = []
    for name, target_ratio in TARGETS.items():
        ratio = medians[name].rps / off
        verdict = "meets" if ratio >= target_ratio else "misses"
        print(f"ratio {name} / off: {ratio:.3f} ({verdict} the target {target_ratio})")
        results.append(
            result(
                f"livez_rps_{name}",
                medians[name].rps,
                "req/s",
                "same app, both off",
                off,
                target_ratio,
            )
        )
    print(json.dumps({"bench": "ops", "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main(run_benchmark))
