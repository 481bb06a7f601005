"""What observability costs: ``GET /livez`` of the taskboard with metrics, and with metrics
and tracing, against the same app with both off.

Four uvicorn servers of the reference app (``examples.taskboard``), differing only in
``BASTION_METRICS__ENABLED`` and ``BASTION_TRACING__ENABLED``:

* ``off``: neither (the reference);
* ``metrics``: the HTTP metrics (the default set-up);
* ``traced``: the metrics and tracing with the SDK's default sampler (every request
  sampled), every span sent through a ``BatchSpanProcessor`` with its default queue
  settings to an exporter that drops it in the process (the cost of making and batching
  spans, not of a network);
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
import statistics
import sys
import time
from typing import TYPE_CHECKING, Any

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


def _dropping_exporter() -> Any:
    from collections.abc import Sequence

    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class Dropped(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    return Dropped()


def _traced(sampled: float | None) -> FastAPI:
    """The taskboard traced to a dropping exporter; ``sampled``: the ratio of traces
    sampled, None for the SDK's default sampler (parent-based, always on)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    sampler = None if sampled is None else ParentBased(TraceIdRatioBased(sampled))
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(BatchSpanProcessor(_dropping_exporter()))
    trace.set_tracer_provider(provider)
    return _taskboard(metrics=True, tracing=True)


def create_traced() -> FastAPI:
    return _traced(None)


def create_sampled() -> FastAPI:
    """Tracing with 10% of the traces sampled (OTEL_TRACES_SAMPLER=parentbased_traceidratio)."""
    return _traced(0.1)


def sdk_span_us(spans: int = 20_000, repeats: int = 5) -> float:
    """Microseconds of the SDK alone for one server span, as the traced target makes it
    (default sampler, the same attributes, the status, end, the same BatchSpanProcessor
    and exporter): the least tracing can cost per request, whoever calls the SDK."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_dropping_exporter()))
    tracer = provider.get_tracer("bench")
    attributes = {
        "http.request.method": "GET",
        "http.route": "/livez",
        "url.path": "/livez",
        "url.scheme": "http",
    }
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(spans):
            span = tracer.start_span("GET /livez", kind=SpanKind.SERVER, attributes=attributes)
            span.set_attribute("http.response.status_code", 200)
            span.end()
        timings.append((time.perf_counter() - start) / spans * 1e6)
    provider.shutdown()
    return statistics.median(timings)


def print_span_budget(medians: dict[str, HttpRound]) -> None:
    """How the traced target's extra server CPU splits between the SDK and the rest."""
    off, metrics, traced = (medians[name].server_us for name in ("off", "metrics", "traced"))
    if off is None or metrics is None or traced is None:
        return
    sdk = sdk_span_us()
    print(
        f"server CPU per request: off {off:.1f} us, metrics {metrics:.1f} us, "
        f"traced {traced:.1f} us\n"
        f"SDK span alone (start, 5 attributes, end, BatchSpanProcessor): {sdk:.1f} us; "
        f"traced - metrics - SDK span: {traced - metrics - sdk:.1f} us\n"
        f"best traced / off, with nothing but the SDK span on top of metrics: "
        f"{off / (metrics + sdk):.3f}"
    )


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
    print_span_budget(medians)
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
