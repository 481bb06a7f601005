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

The exporter of the traced targets counts the server spans it gets; when the server
shuts down, the count and the number of requests its HTTP metrics counted go to a file
that the bench reads once the servers have stopped: every request of ``traced`` must
have given its exported span, and about 10% of those of ``sampled``.

Short rounds alternate between the targets and the medians are compared (see
``bench/http_overhead.py``, whose machinery this reuses).

    .venv/bin/python bench/ops.py            # 15 rounds of 2 s per target
    .venv/bin/python bench/ops.py --quick    # 8 rounds of 1 s per target

The last line printed is the JSON summary described in DESIGN.md section 6.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import BENCH_DIR, HttpRound
from harness import summary_result as result
from http_overhead import TABLE_HEADER, Target, main, print_settings, row, run_rounds

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

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


# Where the traced servers write what their exporter got (set by the bench for its servers).
SPANS_DIR_VAR = "BENCH_OPS_SPANS_DIR"
SAMPLED_RATIO = 0.1


def _requests_served(app: FastAPI) -> int:
    """The requests the app's HTTP metrics counted, all routes and statuses together."""
    from bastion import bastion_state

    registry = bastion_state(app).extensions["metrics"].registry
    return int(
        sum(
            sample.value
            for metric in registry.collect()
            for sample in metric.samples
            if sample.name == "http_server_request_duration_seconds_count"
        )
    )


def _dropping_exporter() -> Any:
    """An exporter that drops the spans it gets, counting the server spans."""
    from collections.abc import Sequence

    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
    from opentelemetry.trace import SpanKind

    class Dropped(SpanExporter):
        server_spans = 0

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            self.server_spans += sum(1 for span in spans if span.kind is SpanKind.SERVER)
            return SpanExportResult.SUCCESS

    return Dropped()


def _report_spans_at_shutdown(app: FastAPI, exporter: Any, report: Path) -> None:
    """Once the app's lifespan has ended (Bastion's tracing flushes the spans then), write
    the server spans ``exporter`` got and the requests the HTTP metrics counted to ``report``
    (at shutdown: uvicorn ends on the signal it got, without running ``atexit``)."""
    from contextlib import asynccontextmanager

    lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def reporting(app: FastAPI) -> AsyncIterator[Any]:
        async with lifespan(app) as state:
            yield state
        counts = {"server_spans": exporter.server_spans, "requests": _requests_served(app)}
        report.write_text(json.dumps(counts))

    app.router.lifespan_context = reporting


def _traced(name: str, sampled: float | None) -> FastAPI:
    """The taskboard traced to a dropping exporter; ``sampled``: the ratio of traces
    sampled, None for the SDK's default sampler (parent-based, always on)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    sampler = None if sampled is None else ParentBased(TraceIdRatioBased(sampled))
    provider = TracerProvider(sampler=sampler)
    exporter = _dropping_exporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    app = _taskboard(metrics=True, tracing=True)
    spans_dir = os.environ.get(SPANS_DIR_VAR)
    if spans_dir:
        _report_spans_at_shutdown(app, exporter, Path(spans_dir) / f"{name}.json")
    return app


def create_traced() -> FastAPI:
    return _traced("traced", None)


def create_sampled() -> FastAPI:
    """Tracing with 10% of the traces sampled (OTEL_TRACES_SAMPLER=parentbased_traceidratio)."""
    return _traced("sampled", SAMPLED_RATIO)


def span_us(*, bastion: bool, spans: int = 20_000, repeats: int = 5) -> float:
    """Microseconds for one server span in a loop, made as the traced target makes it
    (default sampler, the same attributes, the status, end, a BatchSpanProcessor to the
    dropping exporter): by Bastion's ``ServerSpans``, or by the SDK's ``Tracer.start_span``."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind

    from bastion.ops.tracing import NO_PARENT, OwnAttributes, ServerSpans

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_dropping_exporter()))
    tracer = provider.get_tracer("bench")
    server_spans = ServerSpans(tracer)
    attributes = {
        "http.request.method": "GET",
        "http.route": "/livez",
        "url.path": "/livez",
        "url.scheme": "http",
    }
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        for index in range(spans):
            if index % 64 == 0:
                time.sleep(0)  # lets the processor's thread take the spans, as a server does
            if bastion:
                span = server_spans.start("GET /livez", NO_PARENT, OwnAttributes(attributes))
                span.set_own_attribute("http.response.status_code", 200)
            else:
                span = tracer.start_span("GET /livez", kind=SpanKind.SERVER, attributes=attributes)
                span.set_attribute("http.response.status_code", 200)
            span.end()
        timings.append((time.perf_counter() - start) / spans * 1e6)
    provider.shutdown()
    return statistics.median(timings)


def print_span_budget(medians: dict[str, HttpRound]) -> None:
    """How the traced target's extra server CPU splits between the span and the rest."""
    off, metrics, traced = (medians[name].server_us for name in ("off", "metrics", "traced"))
    if off is None or metrics is None or traced is None:
        return
    sdk, bastion = span_us(bastion=False), span_us(bastion=True)
    print(
        f"server CPU per request: off {off:.1f} us, metrics {metrics:.1f} us, "
        f"traced {traced:.1f} us (+{traced - metrics:.1f} us over metrics)\n"
        f"one span in a loop (start, 5 attributes, end, BatchSpanProcessor): "
        f"Bastion's ServerSpans {bastion:.1f} us, the SDK's start_span {sdk:.1f} us"
    )


def check_spans(spans_dir: Path) -> None:
    """Print what the traced servers' exporters got; fail unless ``traced`` exported a span
    for each of its requests and ``sampled`` for about 10% of them."""
    for name, expected in (("traced", 1.0), ("sampled", SAMPLED_RATIO)):
        report = spans_dir / f"{name}.json"
        if not report.exists():
            raise RuntimeError(f"the {name} server wrote no span count (see its log)")
        counts = json.loads(report.read_text())
        spans, requests = counts["server_spans"], counts["requests"]
        share = spans / requests if requests else 0.0
        print(f"{name}: {spans} server spans exported for {requests} requests ({share:.1%})")
        if spans == 0 or (expected == 1.0 and spans != requests):
            raise RuntimeError(f"{name}: {spans} server spans exported for {requests} requests")
        if not expected / 2 < share < expected * 2:
            raise RuntimeError(f"{name}: {share:.1%} of the requests exported, not ~{expected:.0%}")


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
    with tempfile.TemporaryDirectory(prefix="bench-ops-spans-") as spans_dir:
        os.environ[SPANS_DIR_VAR] = spans_dir  # the servers' environment is this one's
        rounds = run_rounds(SERVERS, args)
        print()
        check_spans(Path(spans_dir))
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
